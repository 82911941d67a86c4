"""Write archive's release events: `python -m tests.support.release_archive`.

Run once with the release's code (before issue 24's typed values), it leaves a SQLite
event store, encrypted at rest with its key file alongside, holding every aggregate kind
archive has: a household file (scans, a viewing, paper custody), a chain alarm and its
acknowledgement, a monthly filing through compile, submit, receive, query and answer, and
supervision alerts, one acknowledged. tests/archive/test_release_events.py loads them
with the current code. `ids.json` names the aggregates (values are asserted in the test)."""

from __future__ import annotations

import json
import shutil
import sqlite3
import tempfile
from datetime import date
from pathlib import Path

from services.archive.domain import DocumentKind, PaperCopy, file_id_for
from shared.auth import Principal, Role, ensure_dev_keypair
from shared.contracts.common import SERVICES
from shared.signing import ensure_bus_keys
from tests.support import signing
from tests.support.archive import Streams, dibao_case, tampered
from tests.support.places import YELIN
from tests.support.stack import build_service
from tests.support.supervision import World

OUT = Path(__file__).parents[1] / "data" / "release_events" / "archive"
PDF = b"%PDF-1.7\n" + b"0" * 200
PNG = b"\x89PNG\r\n\x1a\n" + b"1" * 200


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        work, keys = Path(tmp) / "var", Path(tmp) / "keys"
        ensure_dev_keypair(keys)
        ensure_bus_keys(keys, SERVICES)
        signing.KEYS_DIR = keys
        rt = build_service("archive", tmp=work, keys_dir=keys, nats_url="nats://127.0.0.1:1",
                           database_url=None, encrypt_at_rest=True, alert_scan_interval_s=0,
                           cipher_key_file=work / "cipher.key")
        app = rt.app
        app.today = lambda: date(2025, 4, 3)
        clerk = Principal("clerk-yelin-1", Role.TOWNSHIP_CLERK, YELIN, name="王小梅")
        leader = Principal("lead-yelin", Role.TOWNSHIP_LEADER, YELIN)
        bureau = Principal("bureau-1", Role.COUNTY_BUREAU, None)
        centre = Principal("centre-1", Role.COUNTY_CENTRE, None)
        try:
            streams = Streams()  # continues the world's positions: no copy is a duplicate
            with app.unit_of_work():
                for env in World(per_township=3).envelopes():
                    app.archive_envelope(env)
                    streams.positions[env.source] = max(
                        streams.positions.get(env.source, 0), env.position)
            application, _, envs = dibao_case(streams, household_id="HH-0001")
            for e in envs[:3]:
                app.archive_envelope(e)
            # The household file: two scans, one opened, the township copy filed, lent, back.
            app.file_document(clerk, "HH-0001", str(application), DocumentKind.ID_CARD, PDF)
            app.file_document(clerk, "HH-0001", str(application),
                              DocumentKind.APPLICATION_FORM, PNG)
            sha = app.household_file(clerk, "HH-0001")["documents"][0]["sha256"]
            app.open_document(clerk, "HH-0001", sha, "核对身份证号码")
            app.file_paper_items(clerk, "HH-0001", PaperCopy.TOWNSHIP, str(application),
                                 [DocumentKind.ID_CARD, DocumentKind.APPLICATION_FORM],
                                 "椰林镇社会事务服务中心 档案柜3-2")
            app.check_out(clerk, "HH-0001", PaperCopy.TOWNSHIP, "县民政局 李明", "年度抽查")
            app.return_copy(clerk, "HH-0001", PaperCopy.TOWNSHIP,
                            "椰林镇社会事务服务中心 档案柜3-3")
            # A chain alarm: a copy edited after sealing, then acknowledged by the county.
            _, _, other = dibao_case(streams, household_id="HH-0002")
            app.archive_envelope(other[0])
            app.archive_envelope(tampered(other[1], applicant_name="黎某"))
            alarm = app.alarms(bureau, None, True)[0]
            app.acknowledge_alarm(bureau, alarm["alarm_id"], "上游已重发，核对无误")
            # The monthly filing (报备) of 椰林镇 for March 2025, through its lifecycle.
            sup = app.supervision
            sup.compile_filing(clerk, YELIN, "2025-03")
            filing = sup.compile_filing(clerk, YELIN, "2025-03")
            sup.submit_filing(leader, YELIN, "2025-03", filing.version, "按时报备")
            sup.receive_filing(bureau, YELIN, "2025-03")
            _, query_id = sup.query_filing(bureau, YELIN, "2025-03", "确认件数与统计表不一致")
            sup.answer_filing_query(leader, YELIN, "2025-03", query_id, "已补录两户，附说明")
            # Supervision alerts: what a scan of March raises; the first acknowledged.
            raised = sup.scan_alerts(centre, ["2025-03"])
            sup.acknowledge_supervision_alert(centre, raised[0].id, "已电话核实，情况属实")
            ids = {"household_file": str(file_id_for("HH-0001")), "case": str(application),
                   "chain_alarm": str(alarm["alarm_id"]),
                   "monthly_filing": str(filing.id), "query": str(query_id),
                   "alerts": sorted(str(a.id) for a in raised),
                   "acknowledged_alert": str(raised[0].id)}
        finally:
            app.close()
        # Only the event store goes in: read models are rebuilt from it and the streams.
        shutil.rmtree(OUT, ignore_errors=True)
        OUT.mkdir(parents=True)
        db = sqlite3.connect(work / "archive.db")
        db.execute(f"VACUUM INTO '{OUT / 'archive.db'}'")
        db.close()
        keep = sqlite3.connect(OUT / "archive.db")
        for (name,) in keep.execute("SELECT name FROM sqlite_master WHERE type='table'"
                                    " AND name != 'archive_events'").fetchall():
            keep.execute(f'DROP TABLE "{name}"')
        keep.commit()
        keep.execute("VACUUM")
        keep.close()
        shutil.copy(work / "cipher.key", OUT / "cipher.key")
        (OUT / "ids.json").write_text(json.dumps(ids, indent=1) + "\n", encoding="utf-8")
        print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
