"""Schema migrations: Alembic for the kernel tables, a version stamp for the read models.

The kernel tables (inbox, idempotency, relay position, chain heads, upstream heads, event
traces, projection versions) hold state that no event can give back, so they change only by
Alembic revisions (`versions/`), each taking the service's name (every table is prefixed).
Read models are derived: each carries a stamp (the projection's `VERSION` and the hash of its
tables' shape); a stamp that differs from the code's drops and replays that read model from the
events, so a changed read model needs no migration, only, for a change of meaning with the same
shape, a `VERSION` bump.

A database from before migrations (kernel tables made by create_all, no version table) is
stamped at the baseline and upgraded; its read models are kept if their shape is the code's,
else rebuilt. Events are never touched.

A new kernel revision: copy the latest file in `versions/`, give it the next id and
`down_revision`, write `upgrade(service)`; tests/shared/test_migrations.py fails while the
kernel tables and the revisions disagree.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData, inspect, select
from sqlalchemy.engine import Connection

if TYPE_CHECKING:
    from shared.eventstore import Projection, ServiceApplication

log = logging.getLogger(__name__)
BASELINE = "0001"
_scripts: ScriptDirectory | None = None


def _config(service: str, connection: Connection, metadata: MetaData) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", "shared:migrations")
    cfg.attributes.update(service=service, connection=connection, metadata=metadata)
    return cfg


def head() -> str:
    global _scripts
    if _scripts is None:
        cfg = Config()
        cfg.set_main_option("script_location", "shared:migrations")
        _scripts = ScriptDirectory.from_config(cfg)
    h = _scripts.get_current_head()
    assert h is not None
    return h


def current_revision(connection: Connection, service: str) -> str | None:
    ctx = MigrationContext.configure(connection,
                                     opts={"version_table": f"{service}_alembic_version"})
    return ctx.get_current_revision()


def upgrade_kernel(app: ServiceApplication) -> tuple[str | None, str]:
    """Bring the kernel tables to the newest revision. Returns (before, after)."""
    service = app.name
    with app.engine.begin() as c:
        before = current_revision(c, service)
        if before == head():
            return before, before
        if before is None and inspect(c).has_table(f"{service}_inbox"):
            # Made by create_all before migrations existed: that is the baseline's shape.
            log.info("%s: kernel tables from before migrations, stamped %s", service, BASELINE)
            command.stamp(_config(service, c, app.kernel.metadata), BASELINE)
            before = BASELINE
        command.upgrade(_config(service, c, app.kernel.metadata), "head")
        log.info("%s: kernel tables migrated %s -> %s", service, before, head())
        return before, head()


def kernel_drift(app: ServiceApplication) -> list[Any]:
    """What differs between the kernel tables in the database and in the code (empty: none)."""
    with app.engine.connect() as c:
        return _diff(c, app.kernel.metadata)


def _diff(c: Connection, metadata: MetaData) -> list[Any]:
    ctx = MigrationContext.configure(c, opts={
        "include_object": lambda o, name, type_, *_: type_ != "table" or name in metadata.tables,
        "compare_type": True})
    return list(compare_metadata(ctx, metadata))


def read_model_stamp(projection: Projection) -> str:
    """The projection's VERSION and a hash of its tables' shape: names, columns, types,
    nullability, keys and indexes. Any change of shape gives another stamp."""
    parts = []
    for t in sorted(projection.metadata.tables.values(), key=lambda t: t.name):
        parts.append(f"T {t.name}")
        for col in t.columns:
            parts.append(f"C {col.name} {type(col.type).__name__} {_type_args(col.type)} "
                         f"null={col.nullable} pk={col.primary_key}")
        for ix in sorted(t.indexes, key=lambda i: str(i.name)):
            parts.append(f"I {ix.name} {[c.name for c in ix.columns]} unique={ix.unique}")
        for uc in sorted(str(sorted(c.name for c in k.columns)) for k in t.constraints
                          if type(k).__name__ == "UniqueConstraint"):
            parts.append(f"U {uc}")
    digest = hashlib.sha256("\n".join(parts).encode()).hexdigest()[:32]
    return f"v{projection.VERSION}:{digest}"


def _type_args(t: Any) -> str:
    impl = getattr(t, "impl", t)
    return ",".join(f"{k}={getattr(impl, k)}" for k in ("length", "precision", "scale",
                                                           "timezone") if hasattr(impl, k))


def stored_stamp(app: ServiceApplication) -> str | None:
    t = app.kernel.projection_version
    with app.engine.connect() as c:
        row = c.execute(select(t.c.stamp).where(t.c.projection == app.name)).first()
    return None if row is None else str(row[0])


def write_stamp(app: ServiceApplication, events: int) -> None:
    assert app.projection is not None
    t = app.kernel.projection_version
    with app.unit_of_work() as s:
        s.execute(t.delete().where(t.c.projection == app.name))
        s.execute(t.insert().values(projection=app.name, stamp=read_model_stamp(app.projection),
                                    rebuilt_at=datetime.now(UTC), events=events))


def sync_read_models(app: ServiceApplication) -> str:
    """Keep, stamp, create or rebuild the read models; returns what was done ('kept',
    'stamped', 'created', 'rebuilt')."""
    projection = app.projection
    if projection is None:
        return "kept"
    stored = stored_stamp(app)
    if stored == read_model_stamp(projection):
        return "kept"
    if stored is None:
        with app.engine.connect() as c:
            present = [n for n in projection.metadata.tables if inspect(c).has_table(n)]
        if not present and not app.recorder.max_notification_id():  # a new database
            projection.metadata.create_all(app.engine)
            write_stamp(app, 0)
            return "created"
        with app.engine.connect() as c:
            same = len(present) == len(projection.metadata.tables) and not _diff(
                c, projection.metadata)
        if same:  # from before stamps, and already the code's shape
            write_stamp(app, 0)
            log.info("%s: read models stamped %s", app.name, read_model_stamp(projection))
            return "stamped"
    count = app.rebuild_projections()
    log.info("%s: read models rebuilt from %d events (stamp %s -> %s)", app.name, count,
             stored, read_model_stamp(projection))
    return "rebuilt"
