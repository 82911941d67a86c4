"""Read-model rebuilds as background jobs with progress (issue 23).

The new read models are built under shadow names while the old ones keep serving reads;
one transaction then catches the shadow up on the service's newest events, drops the old
tables and renames the shadow ones in their place. Each completed rebuild bumps a
generation number that names the next shadow, so the indexes and constraints a renamed
table keeps (named after its shadow) never collide with the next build's.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field
from sqlalchemy import Column, Integer, MetaData, String, Table, select
from sqlalchemy.orm import Session

if TYPE_CHECKING:
    from shared.eventstore import Projection, ServiceApplication

log = logging.getLogger(__name__)

_generations = MetaData()
GENERATIONS = Table(
    "read_model_generations", _generations,
    Column("service", String(32), primary_key=True),
    Column("generation", Integer, nullable=False),
)


class RebuildStatus(BaseModel):
    """A read-model rebuild as GET/POST /ops/rebuild-read-models show it."""

    service: str
    state: str = Field(description="none | running | done | failed")
    phase: str | None = None
    done: int | None = None
    total: int | None = None
    percent: float | None = None
    elapsed_s: float | None = None
    events_per_s: float | None = None
    started_at: str | None = None
    error: str | None = None
    result: dict[str, Any] | None = None


class RebuildProgress:
    """What a running or finished rebuild has done; read from any thread."""

    def __init__(self, service: str) -> None:
        self.service = service
        self.state = "running"  # running | done | failed
        self.phase = "starting"
        self.done = 0
        self.total: int | None = None
        self.started_at = datetime.now(UTC)
        self._t0 = time.monotonic()
        self.elapsed_s = 0.0
        self.error: str | None = None
        self.result: dict[str, Any] | None = None
        self._listeners: list[Callable[[RebuildProgress], None]] = []

    def listen(self, listener: Callable[[RebuildProgress], None]) -> None:
        self._listeners.append(listener)

    def step(self, phase: str, total: int | None = None) -> None:
        """A new phase; `done` keeps counting, `total` is set when given."""
        self.phase = phase
        if total is not None:
            self.total = total
        self._tell()

    def advance(self, n: int) -> None:
        self.done += n
        self._tell()

    def finish(self, result: dict[str, Any]) -> None:
        self.state, self.phase, self.result = "done", "swapped", result
        self._tell()

    def fail(self, error: BaseException) -> None:
        self.state, self.error = "failed", f"{type(error).__name__}: {error}"[:500]
        self._tell()

    def _tell(self) -> None:
        self.elapsed_s = time.monotonic() - self._t0
        for listener in self._listeners:
            listener(self)

    def as_dict(self) -> dict[str, Any]:
        elapsed = time.monotonic() - self._t0 if self.state == "running" else self.elapsed_s
        return {"service": self.service, "state": self.state, "phase": self.phase,
                "done": self.done, "total": self.total,
                "percent": round(100 * self.done / self.total, 1) if self.total else None,
                "elapsed_s": round(elapsed, 2),
                "events_per_s": round(self.done / elapsed, 1) if elapsed > 0 else None,
                "started_at": self.started_at.isoformat(), "error": self.error,
                "result": self.result}


def print_progress(every_s: float = 2.0) -> Callable[[RebuildProgress], None]:
    """A listener for the command line: one line to stderr every `every_s` and at the end."""
    last = [0.0]

    def show(p: RebuildProgress) -> None:
        now = time.monotonic()
        if p.state == "running" and now - last[0] < every_s:
            return
        last[0] = now
        d = p.as_dict()
        pct = f" {d['percent']}%" if d["percent"] is not None else ""
        print(f"rebuild {p.service}: {p.phase} {p.done}/{p.total or '?'}{pct} "
              f"{d['events_per_s'] or 0} events/s {d['elapsed_s']}s {p.state}",
              file=sys.stderr, flush=True)
    return show


class ShadowBuild:
    """A projection's tables under shadow names, and the swap that puts them in place."""

    def __init__(self, app: ServiceApplication, projection: Projection) -> None:
        self.app, self.base = app, projection
        _generations.create_all(app.engine)
        with app.read_session() as s:
            current = s.execute(select(GENERATIONS.c.generation).where(
                GENERATIONS.c.service == app.name)).scalar()
        self.generation = int(current or 0) + 1
        suffix = f"__r{self.generation}"
        shadow = copy.copy(projection)
        shadow.metadata = MetaData()
        self.names: list[tuple[str, str]] = []  # (shadow, base)
        renamed: dict[str, Table] = {}
        for table in projection.metadata.sorted_tables:
            copied = table.to_metadata(shadow.metadata, name=table.name + suffix)
            for index in copied.indexes:  # explicitly named ones (auto names follow the table)
                if index.name and not index.name.startswith("ix_" + copied.name):
                    index.name = f"{index.name}{suffix}"
            renamed[table.name] = copied
            self.names.append((copied.name, table.name))
        for attr, value in vars(projection).items():
            if isinstance(value, Table) and value.name in renamed:
                setattr(shadow, attr, renamed[value.name])
        self.projection = shadow

    def create(self) -> None:
        """Empty shadow tables (a crashed build's leftovers of this generation dropped).

        The indexes of the tables a projection names in `BUILT_UNINDEXED` are dropped at
        once: the build does not read by them, and the swap creates every index under its
        base name anyway, from the finished table in one sorted pass, instead of each row
        inserted into each index at random (which slows a large build as the indexes
        outgrow the page cache)."""
        self.projection.metadata.drop_all(self.app.engine)
        self.projection.metadata.create_all(self.app.engine)
        keep = getattr(self.base, "BUILT_UNINDEXED", {})
        q = self.app.engine.dialect.identifier_preparer.quote
        with self.app.engine.begin() as connection:
            for shadow, base in self.names:
                if base not in keep:
                    continue
                for index in self.projection.metadata.tables[shadow].indexes:
                    if not any(c.name in keep[base] for c in index.columns):
                        connection.exec_driver_sql(f"DROP INDEX IF EXISTS {q(str(index.name))}")

    def swap(self, session: Session) -> None:
        """In the caller's transaction: the old tables go, the shadow ones take their names."""
        q = self.app.engine.dialect.identifier_preparer.quote
        connection = session.connection()
        for shadow, base in self.names:
            connection.exec_driver_sql(f"DROP TABLE IF EXISTS {q(base)}")
            connection.exec_driver_sql(f"ALTER TABLE {q(shadow)} RENAME TO {q(base)}")
            # The indexes take the base names back (the old table's went with it), so the
            # schema is the code's and later migrations find the names they expect.
            for index in self.projection.metadata.tables[shadow].indexes:
                connection.exec_driver_sql(f"DROP INDEX IF EXISTS {q(str(index.name))}")
            for index in self.base.metadata.tables[base].indexes:
                index.create(connection)
        self.app.upsert(session, GENERATIONS, ["service"], [
            {"service": self.app.name, "generation": self.generation}])


def rebuild_own_events(app: ServiceApplication, progress: RebuildProgress | None = None,
                       batch: int = 500) -> dict[str, Any]:
    """Replay the service's own events into a shadow of its read models, catch up on the
    events committed meanwhile, swap. The old read models serve every read until the swap
    commits. Returns {"own_events": events applied, ...}."""
    progress = progress or RebuildProgress(app.name)
    if app.projection is None:
        progress.finish({"own_events": 0})
        return {"own_events": 0}
    build, replayed = begin(app, progress, batch)
    return finish(app, build, replayed, progress, batch)


def begin(app: ServiceApplication, progress: RebuildProgress, batch: int = 500,
          more: int = 0) -> tuple[ShadowBuild, tuple[int, int]]:
    """Fresh shadow tables with the own events replayed: (build, (last position, count)).
    `more`: what the caller will add afterwards, for the progress total."""
    assert app.projection is not None
    app.projection.metadata.create_all(app.engine)  # a model new in this release: to swap out
    build = ShadowBuild(app, app.projection)
    build.create()
    progress.step("own events", (app.recorder.max_notification_id() or 0) + more)
    after = count = 0
    while page := app.notifications(after, batch):
        with app.unit_of_work() as s:
            build.projection.apply_many(s, [(app.mapper.to_domain_event(n), n.id)
                                           for n in page])
        after, count = page[-1].id, count + len(page)
        progress.advance(len(page))
    return build, (after, count)


def finish(app: ServiceApplication, build: ShadowBuild, replayed: tuple[int, int],
           progress: RebuildProgress, batch: int = 500,
           extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """In one transaction: the own events committed since the replay, then the swap."""
    after, count = replayed
    progress.step("swap")
    with app.unit_of_work() as s:
        # Writers wait on this transaction (SQLite's write lock; on PostgreSQL the lock
        # taken on the old tables), so nothing commits between the catch-up and the swap.
        if app.dialect == "postgresql":
            q = app.engine.dialect.identifier_preparer.quote
            s.connection().exec_driver_sql(
                f"LOCK TABLE {', '.join(q(b) for _, b in build.names)} IN EXCLUSIVE MODE")
        caught_up = 0
        while page := app.notifications(after, batch):
            build.projection.apply_many(s, [(app.mapper.to_domain_event(n), n.id)
                                           for n in page])
            caught_up += len(page)
            after = page[-1].id
        build.swap(s)
    result = {"own_events": count + caught_up, "caught_up": caught_up,
              "generation": build.generation, **(extra or {})}
    progress.finish(result)
    return result


class RebuildJobs:
    """At most one rebuild at a time per service, run in the background; the last one's
    progress stays visible."""

    def __init__(self) -> None:
        self.current: RebuildProgress | None = None
        self._task: asyncio.Task[Any] | None = None
        self._lock = threading.Lock()

    @property
    def running(self) -> bool:
        return self.current is not None and self.current.state == "running"

    def start(self, service: str, run: Callable[[RebuildProgress], Any]) -> RebuildProgress:
        """Start `run(progress)` (a coroutine function) unless one is running already."""
        with self._lock:
            if self.running:
                assert self.current is not None
                return self.current
            progress = RebuildProgress(service)
            self.current = progress

        async def job() -> None:
            try:
                await run(progress)
            except Exception as e:
                log.exception("read-model rebuild of %s failed", service)
                progress.fail(e)
        self._task = asyncio.create_task(job(), name=f"rebuild-{service}")
        return progress

    async def cancel(self) -> None:
        """On shutdown: the build stops at its next await; the old read models stay."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task

    async def wait(self) -> None:
        if self._task is not None:
            await asyncio.shield(self._task)

    def status(self, service: str) -> dict[str, Any]:
        if self.current is None:
            return {"service": service, "state": "none"}
        return self.current.as_dict()
