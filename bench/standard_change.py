"""标准调整 at county scale: N live 低保 entitlements recomputed under a new standard by
review's own application (preview and confirm per township, each confirm one transaction),
encryption at rest on, beside the raw eventsourcing store's save rate in the same run.

    .venv/bin/python bench/standard_change.py [--entitlements 200000] [--json PATH] [--dir D]

Phases (every number printed is measured in this run):
1. setup (timed, reported apart): N entitlements saved in batches of 1,000;
2. raw: N plain eventsourcing aggregates, one event each, saved in batches of 1,000 by the
   library's own SQLite persistence (`eventsourcing.sqlite`): the store's save rate;
3. recompute: for every township, `confirm_standard_change` (loads each live entitlement,
   recomputes it under the new version, records the change with reason 标准调整), one
   transaction per township: the county-wide run is all 11 townships of Lingshui.
Each phase reports wall seconds and this process's CPU seconds: on the shared 2-core machine
other processes take the cores, and the CPU figure says what the code itself costs. The load
average is recorded before and after.
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

# BENCH_TREE=/work/main: another checkout's code under this bench (before/after, one run).
sys.path.insert(0, str(Path(os.environ.get("BENCH_TREE") or Path(__file__).resolve().parents[1])
                       .resolve()))

from eventsourcing.application import Application  # noqa: E402
from eventsourcing.domain import Aggregate, event  # noqa: E402

from services.review.application import ReviewApplication  # noqa: E402
from services.review.contracts import ReviewContracts  # noqa: E402
from services.review.domain import Entitlement, compute  # noqa: E402
from services.review.main import ReviewSettings  # noqa: E402
from services.review.values import OpinionInputs  # noqa: E402
from shared.auth import Principal, Role  # noqa: E402
from shared.fieldcrypt import Keyring  # noqa: E402
from shared.regions import load_county  # noqa: E402
from shared.signing import bus_keys  # noqa: E402
from tests.support.review import TERMS, household, terms  # noqa: E402

try:  # the sealed outbox (issue 23); absent from a BENCH_TREE from before it
    from shared.outbox import Sealer  # noqa: E402
except ImportError:
    Sealer = None  # type: ignore[assignment,misc]

BATCH = 1000


class Plain(Aggregate):
    @event("Created")
    def __init__(self, amount: str) -> None:
        self.amount = amount


class Timer:
    """Wall and this process's CPU seconds of a phase."""

    def __enter__(self) -> Timer:
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *_: object) -> None:
        self.wall = time.perf_counter() - self.wall
        self.cpu = time.process_time() - self.cpu


def raw_save_rate(n: int, tmp: Path) -> Timer:
    env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite",
           "SQLITE_DBNAME": str(tmp / "raw.sqlite")}
    app = Application(env=env)
    with Timer() as t:
        for i in range(0, n, BATCH):
            app.save(*(Plain(amount=str(j)) for j in range(i, min(i + BATCH, n))))
    return t


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--entitlements", type=int, default=200_000)
    p.add_argument("--json", type=Path)
    p.add_argument("--dir", type=Path, help="where the stores go (default: the system's temp)")
    a = p.parse_args()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(dir=a.dir) as d:
        tmp = Path(d)
        os.environ.setdefault("REVIEW_ENCRYPT_AT_REST", "true")
        settings = ReviewSettings(var_dir=tmp, seed_demo_policy=False, encrypt_at_rest=True)
        county = load_county(settings.region)
        keyring = Keyring.load_or_create(tmp / "keyring.json")
        app = ReviewApplication(settings, settings.calendar, county, keyring=keyring)
        if Sealer is not None:  # as ServiceRuntime wires every writer: sealed at commit
            app.sealer = Sealer(app, ReviewContracts(app, keyring), bus_keys(settings)[0],
                                settings.region)
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
        with Timer() as setup:
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
        raw = raw_save_rate(a.entitlements, tmp)
        app.today = lambda: date(2026, 5, 3)
        changed, slowest = 0, 0.0
        with Timer() as recompute:
            for t in townships:
                leader = Principal(user_id=f"lead-{t}", role=Role.TOWNSHIP_LEADER, township=t)
                t0 = time.perf_counter()
                changed += app.confirm_standard_change(leader, t, 2)["changed"]
                slowest = max(slowest, time.perf_counter() - t0)
    n = a.entitlements
    result = {"entitlements": n, "changed": changed, "townships": len(townships),
              "encrypt_at_rest": True, "sealed_at_commit": Sealer is not None,
              "setup_s": round(setup.wall, 1), "setup_cpu_s": round(setup.cpu, 1),
              "recompute_s": round(recompute.wall, 1),
              "recompute_cpu_s": round(recompute.cpu, 1),
              "slowest_township_s": round(slowest, 1),
              "recomputed_per_s": round(changed / recompute.wall),
              "recomputed_per_cpu_s": round(changed / recompute.cpu),
              "raw_store_saves_per_s": round(n / raw.wall),
              "raw_store_saves_per_cpu_s": round(n / raw.cpu),
              "load_average_before": round(load_before[0], 1),
              "load_average_after": round(os.getloadavg()[0], 1), "goal_s": 60,
              "goal_met": n >= 200_000 and recompute.wall < 60}
    print(f"{changed:,} of {n:,} entitlements recomputed in {recompute.wall:.1f} s "
          f"({result['recomputed_per_s']:,}/s; {recompute.cpu:.1f} CPU s, "
          f"{result['recomputed_per_cpu_s']:,}/CPU s); setup {setup.wall:.1f} s; raw "
          f"eventsourcing.sqlite store {result['raw_store_saves_per_s']:,} saves/s "
          f"({result['raw_store_saves_per_cpu_s']:,}/CPU s); load average "
          f"{result['load_average_before']} -> {result['load_average_after']}")
    print(json.dumps(result))
    if a.json:
        a.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
