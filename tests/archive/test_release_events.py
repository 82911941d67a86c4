"""Events written by the release before issue 24's typed values still load: every
aggregate kind of archive, from tests/data/release_events/archive (written by
tests/support/release_archive.py with that release's code, encrypted at rest), read with
the current code into the same state, and the read models rebuilt from them serve the same
file."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
import sqlalchemy as sa

from services.archive.domain import Inconsistency
from services.archive.main import ArchiveRuntime
from shared.contracts import Actor
from tests.support.stack import build_service

pytestmark = pytest.mark.fast

RELEASE = Path(__file__).parents[1] / "data" / "release_events" / "archive"
YELIN = "469028100"
IDS: dict[str, Any] = json.loads((RELEASE / "ids.json").read_text(encoding="utf-8"))


@pytest.fixture
def archive(tmp_path: Path, keys_dir: Path) -> Iterator[ArchiveRuntime]:
    var = tmp_path / "var"
    var.mkdir()
    for name in ("archive.db", "cipher.key"):
        shutil.copy(RELEASE / name, var / name)
    rt = build_service("archive", tmp=var, keys_dir=keys_dir, nats_url="nats://127.0.0.1:1",
                       database_url=None, encrypt_at_rest=True, alert_scan_interval_s=0,
                       cipher_key_file=var / "cipher.key")
    yield rt
    rt.app.close()


def test_the_stored_events_are_encrypted() -> None:
    assert "王小梅".encode() not in (RELEASE / "archive.db").read_bytes()


def test_the_household_file_loads(archive: ArchiveRuntime) -> None:
    case = IDS["case"]
    f = archive.app.repository.get(UUID(IDS["household_file"]))
    assert (f.household_id, f.township, f.version) == ("HH-0001", YELIN, 7)
    assert [(d["case_id"], d["document_kind"], d["media_type"], d["size"])
            for d in f.documents] == [(case, "id_card", "application/pdf", 209),
                                      (case, "application_form", "image/png", 208)]
    assert f.case_kinds == {case: "dibao"} and f.completed == []
    assert f.paper["township"] == {"location": "椰林镇社会事务服务中心 档案柜3-3",
                                   "items": {case: {"application_form", "id_card"}},
                                   "checked_out_to": None}
    assert f.paper["county"] == {"location": None, "items": {}, "checked_out_to": None}
    assert f.consistency() == [Inconsistency(case_id=case, copy="county", paper_only=[],
                                             scanned_only=["application_form", "id_card"])]
    opened = next(e for _, e in archive.app.iter_domain_events()
                  if type(e).__name__ == "Opened" and e.originator_id == f.id)
    assert Actor.of(opened.actor) == Actor(user_id="clerk-yelin-1", role="township_clerk",
                                           township=YELIN, name="王小梅")
    # The read models, rebuilt from these events at start-up, hold the same scans.
    v = archive.app.views
    with archive.app.read_session() as s:
        rows = s.execute(sa.select(v.documents.c.case_id, v.documents.c.document_kind)
                         .order_by(v.documents.c.position)).all()
    assert [tuple(r) for r in rows] == [(case, "id_card"), (case, "application_form")]


def test_the_chain_alarm_loads(archive: ArchiveRuntime) -> None:
    a = archive.app.repository.get(UUID(IDS["chain_alarm"]))
    assert (a.upstream, a.reason, a.township, a.resolution) == (
        "intake", "hash_mismatch", YELIN, "acknowledged")
    assert a.version == 2


def test_the_monthly_filing_loads(archive: ArchiveRuntime) -> None:
    f = archive.app.repository.get(UUID(IDS["monthly_filing"]))
    assert (f.township, f.month, f.status.value, f.version) == (YELIN, "2025-03",
                                                                 "received", 6)
    assert (f.due_on, f.due_provisional, f.received_on) == (date(2025, 4, 8), False,
                                                            date(2025, 4, 3))
    sub = f.submission
    assert (sub["reviewed_version"], sub["submitted_on"], sub["late"], sub["note"],
            sub["by"]) == (2, date(2025, 4, 3), False, "按时报备", "lead-yelin")
    assert sub["document"]["seal"]["owner"] == YELIN
    # The typed readers over the stored plain data.
    basis = f.compiled_from
    assert (basis.envelopes, len(basis.sha256)) == (54, 64)
    assert basis.compiled_through is not None and basis.compiled_through.startswith("2025-")
    doc = f.sealed_document
    assert doc is not None and (doc.media_type, doc.seal["owner"]) == (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", YELIN)
    assert doc.sha256 == doc.seal["sha256"] and doc.size > 1000
    assert f.queries == {IDS["query"]: {"question": "确认件数与统计表不一致",
                                        "answer": "已补录两户，附说明"}}
    assert f.activity["township"] == YELIN and "applications_accepted" in f.activity["lines"]


def test_the_supervision_alerts_load(archive: ArchiveRuntime) -> None:
    alerts = [archive.app.repository.get(UUID(i)) for i in IDS["alerts"]]
    assert len(alerts) == 23 and {a.month for a in alerts} == {"2025-03"}
    acknowledged = [a for a in alerts if a.acknowledged]
    assert [str(a.id) for a in acknowledged] == [IDS["acknowledged_alert"]]
    assert (acknowledged[0].kind, acknowledged[0].subject, acknowledged[0].township) == (
        "deadline_missed", f"{YELIN}:2025-03:cutoff", YELIN)
