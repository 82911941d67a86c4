"""Event-store persistence choices, measured side by side in one run.

    .venv/bin/python bench/store_backends.py [--creates N] [--updates N] [--rows N]
                                             [--backends A,B,C,D] [--rounds R]
                                             [--pg-host H] [--pg-port P] [--json PATH]

Backends, interleaved: R rounds, each running every backend once in order (A B C D A B C
D ...), so that a change in the shared machine's load falls on all of them rather than on
whichever ran last. Each run gets a fresh store (a file in a temp dir, or a fresh
PostgreSQL database that this script creates and drops after the run):

  A  eventsourcing_sqlalchemy on a SQLite file       (what the services use by default)
  B  eventsourcing_sqlalchemy on PostgreSQL          (what the services use with a URL)
  C  eventsourcing.postgres, the library's own       (needs psycopg_pool)
  D  eventsourcing.sqlite, the library's own

Phases, per backend, in this order (every number printed is measured in this run):

1. creates: N aggregates created and saved, one `app.save` (one transaction) each;
2. load+save: for N of them, `app.repository.get(id)`, one command, `app.save`;
3. scan: page over the whole notification log with
   `app.recorder.select_notifications(start, limit=500, inclusive_of_start=False)`,
   mapping every notification with `app.mapper.to_domain_event`;
4. creates+row (A and B only): N more aggregates, each saved in
   `with app.recorder.transaction(commit=True) as session:` together with one SQLAlchemy
   Core insert into a read-model table, i.e. events and read model in one transaction.
   Afterwards one untimed check that a failing transaction leaves neither the event nor
   the row behind.

Each backend first gets an untimed warm-up (50 creates, 20 load+saves) in its own store;
those events are part of the scanned log (the scanned count is printed).

Prints each round's figures with the load average around each run, each backend's median
over the rounds, and each round's ratios to the first backend of the same round; as the
last line of stdout (or into --json), the same numbers as JSON.
See bench/README.md, "Store backends".
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate, event
from eventsourcing.utils import Environment
from sqlalchemy import Column, Integer, MetaData, String, Table, func, select

WARMUP_CREATES, WARMUP_UPDATES = 50, 20
PAGE = 500

BACKENDS = {
    "A": "eventsourcing_sqlalchemy + SQLite file",
    "B": "eventsourcing_sqlalchemy + PostgreSQL",
    "C": "eventsourcing.postgres",
    "D": "eventsourcing.sqlite",
}


class AssistanceApplication(Aggregate):
    """A small aggregate shaped like an intake application (about ten fields)."""

    @event("Submitted")
    def __init__(
        self,
        applicant_name: str,
        resident_id: str,
        township_code: str,
        village_code: str,
        assistance_kind: str,
        household_size: int,
        monthly_income_fen: int,
        phone: str,
        submitted_on: str,
        members: list[dict[str, Any]],
    ) -> None:
        self.applicant_name = applicant_name
        self.resident_id = resident_id
        self.township_code = township_code
        self.village_code = village_code
        self.assistance_kind = assistance_kind
        self.household_size = household_size
        self.monthly_income_fen = monthly_income_fen
        self.phone = phone
        self.submitted_on = submitted_on
        self.members = members
        self.status = "submitted"
        self.reviews: list[str] = []

    @event("Reviewed")
    def review(self, reviewer: str, decision: str, note: str) -> None:
        self.status = decision
        self.reviews.append(f"{reviewer}:{decision}:{note}")


def payload(i: int) -> dict[str, Any]:
    rid = f"46902819{(i % 90) + 10:02d}0{(i % 12) + 1:02d}{(i % 28) + 1:02d}{i % 10000:04d}"
    return {
        "applicant_name": f"申请人{i:05d}",
        "resident_id": rid[:18],
        "township_code": "469028100",
        "village_code": "469028100201",
        "assistance_kind": "minimum_living",
        "household_size": 3,
        "monthly_income_fen": 120000 + i,
        "phone": f"138{i:08d}",
        "submitted_on": "2026-11-30",
        "members": [
            {"name": f"成员{i}-1", "relation": "spouse", "age": 41, "disabled": False},
            {"name": f"成员{i}-2", "relation": "child", "age": 12, "disabled": False},
            {"name": f"成员{i}-3", "relation": "parent", "age": 73, "disabled": True},
        ],
    }


class BenchApp(Application[UUID]):
    name = "StoreBench"

    # Like shared.eventstore.ServiceApplication: the env given is the only source.
    def construct_env(self, name: str, env: Any = None) -> Environment:
        return Environment(name, dict(env or {}))


@dataclass
class Result:
    key: str
    label: str
    round: int = 0
    load: tuple[float, float] = (0.0, 0.0)  # 1-minute load average before and after
    creates: int = 0
    creates_s: float = 0.0
    updates: int = 0
    updates_s: float = 0.0
    scanned: int = 0
    scan_s: float = 0.0
    rows: int | None = None
    rows_s: float | None = None
    atomic_ok: bool | None = None
    notes: list[str] = field(default_factory=list)

    def rate(self, n: int | None, s: float | None) -> float | None:
        return None if not n or not s else n / s

    def as_dict(self) -> dict[str, Any]:
        return {
            "backend": self.key,
            "label": self.label,
            "round": self.round,
            "load_before_after": [round(x, 2) for x in self.load],
            "creates": self.creates,
            "creates_s": round(self.creates_s, 4),
            "creates_per_s": round(self.rate(self.creates, self.creates_s) or 0, 1),
            "load_save": self.updates,
            "load_save_s": round(self.updates_s, 4),
            "load_save_per_s": round(self.rate(self.updates, self.updates_s) or 0, 1),
            "scanned_events": self.scanned,
            "scan_s": round(self.scan_s, 4),
            "scan_events_per_s": round(self.rate(self.scanned, self.scan_s) or 0, 1),
            "creates_row": self.rows,
            "creates_row_s": None if self.rows_s is None else round(self.rows_s, 4),
            "creates_row_per_s": (
                None if self.rows is None else round(self.rate(self.rows, self.rows_s) or 0, 1)
            ),
            "atomic_check": self.atomic_ok,
        }


def psql(host: str, port: int, sql: str) -> None:
    subprocess.run(
        ["psql", "-h", host, "-p", str(port), "-U", "postgres", "-v", "ON_ERROR_STOP=1",
         "-q", "-c", sql],
        check=True,
    )


def pg_version(host: str, port: int) -> str:
    out = subprocess.run(
        ["psql", "-h", host, "-p", str(port), "-U", "postgres", "-Atc", "show server_version"],
        check=True, capture_output=True, text=True,
    )
    return out.stdout.strip()


def run_phases(app: BenchApp, res: Result, n_creates: int, n_updates: int) -> list[UUID]:
    # Warm-up (untimed): imports, statement caches, connection pools.
    warm = []
    for i in range(WARMUP_CREATES):
        agg = AssistanceApplication(**payload(900000 + i))
        app.save(agg)
        warm.append(agg.id)
    for aid in warm[:WARMUP_UPDATES]:
        agg = app.repository.get(aid)
        agg.review("warmup", "accepted", "ok")
        app.save(agg)

    ids: list[UUID] = []
    t0 = time.perf_counter()
    for i in range(n_creates):
        agg = AssistanceApplication(**payload(i))
        app.save(agg)
        ids.append(agg.id)
    res.creates, res.creates_s = n_creates, time.perf_counter() - t0

    t0 = time.perf_counter()
    for aid in ids[:n_updates]:
        agg = app.repository.get(aid)
        agg.review("clerk-469028100", "accepted", "documents complete")
        app.save(agg)
    res.updates, res.updates_s = n_updates, time.perf_counter() - t0

    expected = WARMUP_CREATES + WARMUP_UPDATES + n_creates + n_updates
    t0 = time.perf_counter()
    start, count = 0, 0
    last: Any = None
    while True:
        page = app.recorder.select_notifications(start, limit=PAGE, inclusive_of_start=False)
        if not page:
            break
        for n in page:
            last = app.mapper.to_domain_event(n)
        count += len(page)
        start = page[-1].id
    res.scanned, res.scan_s = count, time.perf_counter() - t0
    if count != expected or not isinstance(last, AssistanceApplication.Reviewed):
        raise SystemExit(f"{res.key}: scanned {count} events, expected {expected}")
    # Spot check: the last updated aggregate reads back with its review.
    if n_updates and app.repository.get(ids[n_updates - 1]).status != "accepted":
        raise SystemExit(f"{res.key}: load+save did not persist")
    return ids


def run_rows(app: BenchApp, res: Result, n_rows: int) -> None:
    engine = app.factory.datastore.engine  # type: ignore[attr-defined]
    md = MetaData()
    table = Table(
        "storebench_applications", md,
        Column("aggregate_id", String(36), primary_key=True),
        Column("village_code", String(12), nullable=False),
        Column("status", String(16), nullable=False),
        Column("household_size", Integer, nullable=False),
        Column("position", Integer, nullable=False),
    )
    md.create_all(engine)
    t0 = time.perf_counter()
    for i in range(n_rows):
        agg = AssistanceApplication(**payload(500000 + i))
        with app.recorder.transaction(commit=True) as session:  # type: ignore[attr-defined]
            app.save(agg)
            session.execute(table.insert().values(
                aggregate_id=str(agg.id), village_code=agg.village_code, status=agg.status,
                household_size=agg.household_size, position=i,
            ))
    res.rows, res.rows_s = n_rows, time.perf_counter() - t0

    with app.recorder.transaction(commit=False) as session:  # type: ignore[attr-defined]
        got = session.execute(select(func.count()).select_from(table)).scalar_one()
    if got != n_rows:
        raise SystemExit(f"{res.key}: read-model table has {got} rows, expected {n_rows}")

    # Untimed: a transaction that fails after the save leaves neither event nor row.
    agg = AssistanceApplication(**payload(999999))
    try:
        with app.recorder.transaction(commit=True) as session:  # type: ignore[attr-defined]
            app.save(agg)
            session.execute(table.insert().values(
                aggregate_id=str(agg.id), village_code="x", status="x", household_size=0,
                position=-1,
            ))
            raise RuntimeError("abort")
    except RuntimeError:
        pass
    with app.recorder.transaction(commit=False) as session:  # type: ignore[attr-defined]
        row = session.execute(
            select(table.c.aggregate_id).where(table.c.aggregate_id == str(agg.id))
        ).first()
    try:
        app.repository.get(agg.id)
        event_left = True
    except AggregateNotFoundError:
        event_left = False
    res.atomic_ok = row is None and not event_left
    if not res.atomic_ok:
        raise SystemExit(f"{res.key}: rolled-back transaction left event={event_left} row={row}")


def env_for(key: str, tmp: str, pg: dict[str, Any]) -> dict[str, str]:
    if key == "A":
        return {"PERSISTENCE_MODULE": "eventsourcing_sqlalchemy",
                "SQLALCHEMY_URL": f"sqlite:///{tmp}/a_events.db"}
    if key == "B":
        return {"PERSISTENCE_MODULE": "eventsourcing_sqlalchemy",
                "SQLALCHEMY_URL": (f"postgresql+psycopg://postgres@{pg['host']}:{pg['port']}/"
                                   f"{pg['db']['B']}")}
    if key == "C":
        return {"PERSISTENCE_MODULE": "eventsourcing.postgres",
                "POSTGRES_DBNAME": pg["db"]["C"], "POSTGRES_HOST": pg["host"],
                "POSTGRES_PORT": str(pg["port"]), "POSTGRES_USER": "postgres",
                "POSTGRES_PASSWORD": ""}
    if key == "D":
        return {"PERSISTENCE_MODULE": "eventsourcing.sqlite",
                "SQLITE_DBNAME": f"{tmp}/d_events.db"}
    raise ValueError(key)


PHASES = {"creates": ("creates", "creates_s"), "load_save": ("updates", "updates_s"),
          "scan": ("scanned", "scan_s"), "creates_row": ("rows", "rows_s")}


def summarise(results: list[Result], keys: list[str]) -> dict[str, Any]:
    """Per backend and phase: the median rate over the rounds, and the median (min, max)
    of its ratio to the first backend's rate in the same round."""
    def rate(r: Result, phase: str) -> float | None:
        n, s = PHASES[phase]
        return r.rate(getattr(r, n), getattr(r, s))

    by = {(r.round, r.key): r for r in results}
    rounds = sorted({r.round for r in results})
    out: dict[str, Any] = {}
    for key in keys:
        out[key] = {}
        for phase in PHASES:
            rates = [x for rd in rounds if (x := rate(by[(rd, key)], phase)) is not None]
            ratios = [a / b for rd in rounds
                      if (a := rate(by[(rd, key)], phase)) is not None
                      and (b := rate(by[(rd, keys[0])], phase))]
            out[key][phase] = {
                "median": round(statistics.median(rates), 1) if rates else None,
                "per_round": [None if (x := rate(by[(rd, key)], phase)) is None
                              else round(x, 1) for rd in rounds],
                "ratio": None if key == keys[0] or not ratios else {
                    "median": round(statistics.median(ratios), 3),
                    "min": round(min(ratios), 3), "max": round(max(ratios), 3)}}
    return out


def fmt(x: float | None, nd: int = 1) -> str:
    return "-" if x is None else f"{x:.{nd}f}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--creates", type=int, default=2000)
    ap.add_argument("--updates", type=int, default=1000)
    ap.add_argument("--rows", type=int, default=2000, help="creates+row count (A and B)")
    ap.add_argument("--backends", default="A,B,C,D")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds (A B C D, ...)")
    ap.add_argument("--pg-host", default=os.environ.get("PGHOST_BENCH", "127.0.0.1"))
    ap.add_argument("--pg-port", type=int, default=5432)
    ap.add_argument("--json", help="write the JSON result here instead of stdout's last line")
    args = ap.parse_args()
    keys = [k.strip().upper() for k in args.backends.split(",") if k.strip()]
    if not keys or any(k not in BACKENDS for k in keys):
        ap.error(f"--backends takes a comma list of {','.join(BACKENDS)}")
    if args.updates > args.creates:
        ap.error("--updates must not exceed --creates")
    if "C" in keys:
        try:
            import psycopg_pool  # noqa: F401  (eventsourcing.postgres imports it)
        except ImportError:
            ap.error("backend C needs psycopg_pool (pip install psycopg-pool), "
                     "or leave C out: --backends A,B,D")

    run_id = uuid.uuid4().hex[:8]
    pg = {"host": args.pg_host, "port": args.pg_port,
          "db": {k: f"bench_store_{run_id}_{k.lower()}" for k in ("B", "C")}}
    tmp = tempfile.mkdtemp(prefix="store_bench_")
    for rnd in range(args.rounds):
        os.mkdir(f"{tmp}/{rnd}")
    created_dbs: list[str] = []
    results: list[Result] = []
    started = datetime.now(UTC)
    load_start = os.getloadavg()[0]
    wall0 = time.perf_counter()
    try:
        for rnd in range(args.rounds):
            for key in keys:
                db = f"{pg['db'][key]}_{rnd}" if key in ("B", "C") else None
                run_pg = {**pg, "db": {**pg["db"], key: db}} if db else pg
                if db:
                    psql(pg["host"], pg["port"], f"create database {db}")
                    created_dbs.append(db)
                res = Result(key, BACKENDS[key], rnd)
                load0 = os.getloadavg()[0]
                app = BenchApp(env=env_for(key, f"{tmp}/{rnd}", run_pg))
                try:
                    run_phases(app, res, args.creates, args.updates)
                    if key in ("A", "B"):
                        run_rows(app, res, args.rows)
                finally:
                    app.close()
                    if key in ("A", "B"):
                        app.factory.datastore.engine.dispose()  # type: ignore[attr-defined]
                res.load = (load0, os.getloadavg()[0])
                if db:  # each run's database dropped after it: nothing accumulates
                    psql(pg["host"], pg["port"], f"drop database if exists {db} with (force)")
                    created_dbs.remove(db)
                results.append(res)
                print(f"[round {rnd} {key}] done at {time.perf_counter() - wall0:.1f} s, "
                      f"load {res.load[0]:.1f}-{res.load[1]:.1f}", file=sys.stderr)
    finally:
        for db in created_dbs:
            psql(pg["host"], pg["port"], f"drop database if exists {db} with (force)")
        shutil.rmtree(tmp, ignore_errors=True)
    total = time.perf_counter() - wall0

    vers = {p: metadata.version(p) for p in
            ("eventsourcing", "eventsourcing-sqlalchemy", "sqlalchemy", "psycopg")}
    try:
        vers["psycopg-pool"] = metadata.version("psycopg-pool")
    except metadata.PackageNotFoundError:
        vers["psycopg-pool"] = None  # type: ignore[assignment]
    pgv = pg_version(pg["host"], pg["port"]) if any(k in ("B", "C") for k in keys) else None

    print()
    print(f"store backends, {started:%Y-%m-%d %H:%M:%S} UTC, nproc={os.cpu_count()}, "
          f"python {platform.python_version()}, PostgreSQL {pgv}, total {total:.1f} s")
    print("  " + ", ".join(f"{k} {v}" for k, v in vers.items()))
    print(f"  creates={args.creates} load+save={args.updates} creates+row={args.rows} "
          f"(+{WARMUP_CREATES} creates, {WARMUP_UPDATES} load+saves untimed warm-up), "
          f"scan page={PAGE}, {args.rounds} interleaved rounds")
    hdr = (f"{'rd':>2} {'':2} {'backend':<40} {'creates/s':>10} {'load+save/s':>12} "
           f"{'scan ev/s':>10} {'creates+row/s':>14} {'row cost':>9} {'load':>9}")
    print(hdr)
    print("-" * len(hdr))
    for r in results:
        c = r.rate(r.creates, r.creates_s)
        cr = r.rate(r.rows, r.rows_s)
        cost = None if cr is None or c is None else cr / c
        print(f"{r.round:>2} {r.key:2} {r.label:<40} {fmt(c):>10} "
              f"{fmt(r.rate(r.updates, r.updates_s)):>12} "
              f"{fmt(r.rate(r.scanned, r.scan_s)):>10} {fmt(cr):>14} "
              f"{('-' if cost is None else f'{cost:.2f}x'):>9} "
              f"{r.load[0]:>4.1f}-{r.load[1]:<4.1f}")
    summary = summarise(results, keys)
    print("\nmedian over the rounds (ratio to the first backend: median of the same-round "
          "ratios, min-max)")
    for key, m in summary.items():
        print(f"   {key:2} " + "; ".join(
            f"{phase} {fmt(v['median'])}/s" + (
                "" if v.get("ratio") is None else
                f" ({v['ratio']['median']:.2f}x, {v['ratio']['min']:.2f}-"
                f"{v['ratio']['max']:.2f})")
            for phase, v in m.items() if v["median"] is not None))
    print("  row cost = creates+row/s divided by creates/s of the same backend; "
          "atomic rollback check: " + ", ".join(
              f"{r.round}{r.key} {'ok' if r.atomic_ok else 'FAILED'}" for r in results
              if r.atomic_ok is not None))

    out = {
        "bench": "store_backends",
        "started_utc": started.isoformat(timespec="seconds"),
        "nproc": os.cpu_count(),
        "python": platform.python_version(),
        "postgresql": pgv,
        "versions": vers,
        "params": {"creates": args.creates, "load_save": args.updates, "creates_row": args.rows,
                   "warmup_creates": WARMUP_CREATES, "warmup_load_save": WARMUP_UPDATES,
                   "page": PAGE, "rounds": args.rounds},
        "total_s": round(total, 2),
        "load_start_end": [round(load_start, 2), round(os.getloadavg()[0], 2)],
        "results": [r.as_dict() for r in results],
        "summary": summary,
    }
    line = json.dumps(out, ensure_ascii=False)
    if args.json:
        with open(args.json, "w") as f:
            f.write(line + "\n")
    else:
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
