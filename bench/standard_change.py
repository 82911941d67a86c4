"""标准调整 at county scale: N live 低保 entitlements recomputed under a new standard by
review's own application (preview and confirm per township, each confirm one transaction),
encryption at rest on, beside the raw eventsourcing store's save rate in the same run.

    .venv/bin/python bench/standard_change.py [--entitlements 200000] [--json PATH]

Phases (every number printed is measured in this run):
1. setup (timed, reported apart): N entitlements saved in batches of 1,000;
2. raw: N plain eventsourcing aggregates, one event each, saved in batches of 1,000 by the
   library's own SQLite persistence (`eventsourcing.sqlite`): the store's save rate;
3. recompute: for every township, `confirm_standard_change` (loads each live entitlement,
   recomputes it under the new version, records the change with reason 标准调整).
Goal (issue 18): 200,000 recomputed in under 60 s.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import uuid4

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from eventsourcing.application import Application  # noqa: E402
from eventsourcing.domain import Aggregate, event  # noqa: E402

from services.review.application import ReviewApplication  # noqa: E402
from services.review.domain import Entitlement, compute  # noqa: E402
from services.review.main import ReviewSettings  # noqa: E402
from services.review.values import OpinionInputs  # noqa: E402
from shared.auth import Principal, Role  # noqa: E402
from shared.pii import Keyring  # noqa: E402
from shared.regions import load_county  # noqa: E402
from tests.support.review import TERMS, household, terms  # noqa: E402

BATCH = 1000


class Plain(Aggregate):
    @event("Created")
    def __init__(self, amount: str) -> None:
        self.amount = amount


def raw_save_rate(n: int, tmp: Path) -> float:
    env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite",
           "SQLITE_DBNAME": str(tmp / "raw.sqlite")}
    app = Application(env=env)
    t0 = time.perf_counter()
    for i in range(0, n, BATCH):
        app.save(*(Plain(amount=str(j)) for j in range(i, min(i + BATCH, n))))
    return n / (time.perf_counter() - t0)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--entitlements", type=int, default=200_000)
    p.add_argument("--json", type=Path)
    a = p.parse_args()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        os.environ.setdefault("REVIEW_ENCRYPT_AT_REST", "true")
        settings = ReviewSettings(var_dir=tmp, seed_demo_policy=False, encrypt_at_rest=True)
        county = load_county(settings.region)
        app = ReviewApplication(settings, settings.calendar, county,
                                keyring=Keyring.load_or_create(tmp / "keyring.json"))
        bureau = Principal(user_id="bureau", role=Role.COUNTY_BUREAU, township=None)
        app.today = lambda: date(2026, 2, 1)
        app.publish_policy(bureau, date(2026, 2, 1), TERMS, "bench v1")
        app.publish_policy(bureau, date(2026, 5, 1), {**TERMS, "dibao_standard_rural": "720",
                                                      "dibao_standard_urban": "760"}, "bench v2")
        townships = county.township_codes
        variants = []
        for urban in (False, True):
            inputs: dict[str, Any] = {"household": household(urban=urban),
                                      "on": date(2026, 3, 1)}
            variants.append((urban, inputs,
                             compute("dibao", OpinionInputs.of(inputs), terms()).to_stored()))
        t0 = time.perf_counter()
        for i in range(0, a.entitlements, BATCH):
            batch = []
            for j in range(i, min(i + BATCH, a.entitlements)):
                t = townships[j % len(townships)]
                urban, inputs, b = variants[j % 2]
                batch.append(Entitlement(
                    case_id=uuid4(), kind="dibao", household_id=None, township=t,
                    village=t + "201", urban=urban, applicant_name=f"户主{j}",
                    household_size=3, monthly_amount=Decimal(b["monthly_amount"]),
                    breakdown=b, policy_version=1, start_month="2026-03",
                    recheck_due=date(2027, 3, 1), recheck_months=12, payee=None,
                    inputs=inputs, actor=bureau.actor()))
            app.save(*batch)
        setup_s = time.perf_counter() - t0
        raw = raw_save_rate(a.entitlements, tmp)
        app.today = lambda: date(2026, 5, 3)
        t0 = time.perf_counter()
        changed = 0
        for t in townships:
            leader = Principal(user_id=f"lead-{t}", role=Role.TOWNSHIP_LEADER, township=t)
            changed += app.confirm_standard_change(leader, t, 2)["changed"]
        recompute_s = time.perf_counter() - t0
    result = {"entitlements": a.entitlements, "changed": changed, "townships": len(townships),
              "encrypt_at_rest": True, "setup_s": round(setup_s, 1),
              "recompute_s": round(recompute_s, 1),
              "recomputed_per_s": round(changed / recompute_s),
              "raw_store_saves_per_s": round(raw), "goal_s": 60,
              "goal_met": a.entitlements >= 200_000 and recompute_s < 60}
    print(f"{changed:,} of {a.entitlements:,} entitlements recomputed in {recompute_s:.1f} s "
          f"({result['recomputed_per_s']:,}/s); setup {setup_s:.1f} s; raw eventsourcing.sqlite "
          f"store {result['raw_store_saves_per_s']:,} saves/s")
    print(json.dumps(result))
    if a.json:
        a.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
