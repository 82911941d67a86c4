"""How long archive's `verify` takes over a month of one service's events (issue 16).

A month of review in Lingshui: `--cases` review cases of `--events-per-case` events each
(every event an envelope with its audit record, as the relay publishes them), chained per
aggregate, with a chain checkpoint every `--checkpoint-every` events. They are archived
through `ArchiveApplication.archive_envelope` (what the consumer and a rebuild call), then
the whole stream is verified (`verify_stream`: every chain from genesis, plus the
checkpoints' completeness check) and one case (`verify_case`).

    .venv/bin/python bench/verify_month.py                  # 2000 cases x 12 = 24k events
    .venv/bin/python bench/verify_month.py --cases 5000 --json out.json
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from services.archive.main import ArchiveSettings, build  # noqa: E402
from shared.audit import BEIJING  # noqa: E402
from shared.auth import Principal, Role, ensure_dev_keypair  # noqa: E402
from shared.contracts import Actor, Envelope, event_id_for  # noqa: E402
from shared.contracts.audit import (  # noqa: E402
    AUDIT_RECORD,
    CHAIN_CHECKPOINT,
    AuditChange,
    AuditEntry,
    AuditRecorded,
    AuditWho,
    ChainCheckpointed,
    CheckpointHead,
)

YELIN = "469028100"
CLERK = {"user_id": "clerk-yelin-1", "role": "township_clerk", "township": YELIN,
         "village": None}


def month(cases: int, per_case: int, every: int, signer: Any = None) -> list[Envelope]:
    return list(month_envelopes(cases, per_case, every, signer))


def month_envelopes(cases: int, per_case: int, every: int,
                    signer: Any = None) -> Iterator[Envelope]:
    """`month`, one envelope at a time (a million do not fit in memory at once)."""
    start = datetime(2025, 3, 1, tzinfo=UTC)
    heads: dict[Any, tuple[str, int]] = {}
    since: dict[Any, tuple[str, int]] = {}
    position, seq, covered = 0, 0, 0
    ids = [uuid4() for _ in range(cases)]
    total = cases * per_case
    for n in range(total):
        agg = ids[n % cases]
        version = n // cases + 1
        position += 1
        at = start + timedelta(seconds=total and n * (30 * 86400 // total))
        entry = AuditEntry(
            event="ReviewCase.DecisionDeadlineExtended", label="延长审核确认期限",
            aggregate="ReviewCase", who=AuditWho(**CLERK), when=at.astimezone(BEIJING),
            why="需补充核对外省房产信息",
            changes=[AuditChange(field="decision_due", old="2025-03-20", new="2025-04-10")])
        env = Envelope.sealed(
            heads.get(agg, ("0" * 64, 0))[0], signer=signer,
            event_id=event_id_for("review", agg, version),
            type=AUDIT_RECORD, version=1, source="review", region="469028",
            aggregate_id=agg, aggregate_version=version, position=position, occurred_at=at,
            actor=Actor.model_validate(CLERK), case_id=str(agg), township=YELIN,
            data=AuditRecorded(event=entry.event, fields={"reason": entry.why,
                                                          "decision_due": "2025-04-10"}
                               ).model_dump(mode="json"), audit=entry)
        heads[agg] = since[agg] = (env.hash, position)
        yield env
        if position - covered >= every:
            seq += 1
            cp_id = uuid4()
            previous = heads.get(("cp", seq - 1), (None, 0))[0]
            cp = ChainCheckpointed(
                seq=seq, position=position, previous_position=covered, previous_hash=previous,
                aggregates=len(heads), heads=[CheckpointHead(aggregate_id=str(a), hash=h,
                                                             position=p)
                                              for a, (h, p) in since.items()])
            position += 1
            env = Envelope.sealed(
                "0" * 64, signer=signer, event_id=event_id_for("review", cp_id, 1),
                type=CHAIN_CHECKPOINT,
                version=1, source="review", region="469028", aggregate_id=cp_id,
                aggregate_version=1, position=position, occurred_at=at, actor=None,
                data=cp.model_dump(mode="json"))
            heads[("cp", seq)] = (env.hash, position)
            yield env
            covered, since = position - 1, {}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--cases", type=int, default=2000)
    p.add_argument("--events-per-case", type=int, default=12)
    p.add_argument("--checkpoint-every", type=int, default=1000)
    p.add_argument("--json", type=Path)
    a = p.parse_args()
    envelopes = month(a.cases, a.events_per_case, a.checkpoint_every)
    with tempfile.TemporaryDirectory() as tmp:
        ensure_dev_keypair(Path(tmp) / "keys")
        rt = build(ArchiveSettings(var_dir=Path(tmp), alert_scan_interval_s=0))
        app = rt.app
        t0 = time.perf_counter()
        for i in range(0, len(envelopes), 500):
            with app.unit_of_work():
                for env in envelopes[i:i + 500]:
                    app.archive_envelope(env)
        archived = time.perf_counter() - t0
        centre = Principal("centre-1", Role.COUNTY_CENTRE)
        t0 = time.perf_counter()
        result = app.verify_stream(centre, "review", 1, None)
        verify_s = time.perf_counter() - t0
        assert result["ok"], result["first_broken"]
        case_id = envelopes[0].case_id
        assert case_id is not None
        t0 = time.perf_counter()
        one = app.verify_case(centre, case_id)
        case_s = time.perf_counter() - t0
        assert one["ok"], one["first_broken"]
        app.close()
    out = {"envelopes": len(envelopes), "cases": a.cases,
           "checkpoints": result["completeness"]["review"]["checkpoints"],
           "archive_s": round(archived, 2), "verify_stream_s": round(verify_s, 2),
           "verify_stream_per_1k_events_ms": round(1000 * verify_s / len(envelopes) * 1000, 1),
           "verify_case_ms": round(1000 * case_s, 1), "python": platform.python_version(),
           "machine": platform.machine()}
    text = json.dumps(out, ensure_ascii=False)
    if a.json:
        a.json.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
