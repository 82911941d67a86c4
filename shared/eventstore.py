"""Event store selection and the base class of every service's one writer.

Persistence is `eventsourcing_sqlalchemy`: a SQLite file by default, PostgreSQL when a URL
is given. Both let the events, the read-model rows, the consumer's tracking row and the
idempotency record commit in ONE transaction, which is what makes projections and
reactions exactly-once in effect (see docs/architecture.md, "Storage").
"""

from __future__ import annotations

import binascii
import contextlib
import gc
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from uuid import UUID

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from eventsourcing.application import AggregateNotFoundError, Application, ProcessingEvent
from eventsourcing.cryptography import AESCipher
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import (
    JSONTranscoder,
    Notification,
    Recording,
    StoredEvent,
    Transcoding,
)
from eventsourcing.utils import Environment
from eventsourcing_sqlalchemy.factory import SQLAlchemyFactory
from eventsourcing_sqlalchemy.recorders import SQLAlchemyApplicationRecorder
from opentelemetry import propagate, trace
from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    bindparam,
    create_engine,
    delete,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool
from sqlalchemy.types import TypeDecorator

from shared import migrations
from shared.errors import NotFound
from shared.files import ensure_private_file, sqlite_path, write_private
from shared.outbox import LoadedValues, StaleRelay
from shared.settings import ServiceSettings

if TYPE_CHECKING:
    from shared.outbox import Sealer

_tracer = trace.get_tracer("shared.eventstore")
POSITION = BigInteger().with_variant(Integer(), "sqlite")


class AwareDateTime(TypeDecorator[datetime]):
    """An instant, stored in UTC and always read back with its offset.

    SQLite keeps a datetime's wall-clock time and drops its offset; PostgreSQL returns
    timestamptz aware. Either way a read model hands the API an aware value, so every
    timestamp the API returns says its offset.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        utc = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value


class AtRest:
    """The service's at-rest cipher, for read-model columns; None while ENCRYPT_AT_REST is
    off. Filled in by ServiceApplication once its cipher exists (tables are made earlier).

    The bytes are eventsourcing's AESCipher's (nonce, tag, ciphertext), made with one AESGCM
    per key instead of one per value: a province's month reads and writes some 10^6 values."""

    PREFIX = "enc1:"

    def __init__(self) -> None:
        self._cipher: Any = None
        self._aead: AESGCM | None = None

    @property
    def cipher(self) -> Any:
        return self._cipher

    @cipher.setter
    def cipher(self, cipher: Any) -> None:
        self._cipher = cipher
        self._aead = AESGCM(cipher.key) if isinstance(cipher, AESCipher) else None

    def encrypt(self, value: str | None) -> str | None:
        if value is None or self._cipher is None:
            return value
        if self._aead is None:
            raw = self._cipher.encrypt(value.encode())
        else:
            nonce = os.urandom(12)
            sealed = self._aead.encrypt(nonce, value.encode(), None)
            raw = nonce + sealed[-16:] + sealed[:-16]  # tag in front, as AESCipher puts it
        return self.PREFIX + binascii.b2a_base64(raw, newline=False).decode()

    def decrypt(self, value: str | None) -> str | None:
        # A value without the prefix was written before encryption was on: read as it is.
        if value is None or not value.startswith(self.PREFIX):
            return value
        if self._cipher is None:
            raise RuntimeError("an encrypted read-model column, and ENCRYPT_AT_REST is off")
        raw = binascii.a2b_base64(value[len(self.PREFIX):])
        if self._aead is None:
            return str(self._cipher.decrypt(raw).decode())
        if len(raw) < 28:
            raise ValueError("Damaged cipher text: too short")
        try:
            return self._aead.decrypt(raw[:12], raw[28:] + raw[12:28], None).decode()
        except InvalidTag as e:
            raise ValueError("Invalid cipher tag") from e


class EncryptedText(TypeDecorator[str]):
    """A read-model column holding personal data (a name, a payee), encrypted with the
    service's at-rest key when ENCRYPT_AT_REST is on.

    Never filter, sort or index by it: each write has a fresh nonce. Inserts that bypass
    SQLAlchemy's type processing (raw executemany) call `AtRest.encrypt` themselves.
    """

    impl = Text
    cache_ok = True

    def __init__(self, at_rest: AtRest) -> None:
        super().__init__()
        self.at_rest = at_rest

    def process_bind_param(self, value: str | None, dialect: Any) -> str | None:
        return self.at_rest.encrypt(value)

    def process_result_value(self, value: str | None, dialect: Any) -> str | None:
        return self.at_rest.decrypt(value)


class DateAsISO(Transcoding):
    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


_paused = 0
_paused_lock = threading.Lock()


@contextlib.contextmanager
def cycle_collection_paused() -> Iterator[None]:
    """For a command that loads and saves tens of thousands of aggregates at once (a
    township's 标准调整): their millions of acyclic containers would be re-scanned by each
    of the cycle collector's passes, a quarter of such a command's time. Reference counting
    still frees everything; cycles wait until the last such command ends."""
    global _paused
    with _paused_lock:
        _paused += 1
        gc.disable()
    try:
        yield
    finally:
        with _paused_lock:
            _paused -= 1
            if _paused == 0:
                gc.enable()


class KernelTables:
    """Tables every service keeps beside its events, prefixed with the service name so
    that several services may share one PostgreSQL database if an operator wants."""

    def __init__(self, service: str) -> None:
        self.metadata = MetaData()
        p = service
        # Consumer tracking: one row per upstream message handled (exactly-once in effect).
        self.inbox = Table(
            f"{p}_inbox", self.metadata,
            Column("upstream", String(64), primary_key=True),
            Column("position", POSITION, primary_key=True),
            Column("event_type", String(128), nullable=False),
            # The hash of the copy handled, so a different copy at the same position is
            # recognised as a conflict rather than skipped as a redelivery.
            Column("envelope_hash", String(64), nullable=False, server_default=""),
            Column("handled_at", AwareDateTime(), server_default=func.now()),
        )
        # The last verified link per upstream aggregate: a consumer acts on an envelope only
        # if it links to this head (or to genesis), so forks and forgeries have no effect.
        self.upstream_heads = Table(
            f"{p}_upstream_heads", self.metadata,
            Column("upstream", String(64), primary_key=True),
            Column("aggregate_id", String(36), primary_key=True),
            Column("last_hash", String(64), nullable=False),
            Column("position", POSITION, nullable=False),
        )
        # Outbox relay: the last notification id published to JetStream.
        self.relay_position = Table(
            f"{p}_relay_position", self.metadata,
            Column("relay", String(64), primary_key=True),
            Column("position", POSITION, nullable=False),
        )
        # Hash-chain heads per aggregate: the envelope hash of its newest sealed event,
        # moved in the writer's transaction (or by the relay, sealing what a writer left).
        self.chain_heads = Table(
            f"{p}_chain_heads", self.metadata,
            Column("aggregate_id", String(36), primary_key=True),
            Column("last_hash", String(64), nullable=False),
            Column("position", POSITION, nullable=False, index=True),  # checkpoint deltas
            # The aggregate version sealed (None: moved before revision 0003).
            Column("version", Integer, nullable=True),
        )
        # The sealed outbox: each event's signed envelope (encrypted at rest when the store
        # is), written with the event, published by the relay. Rows stay until a chain
        # checkpoint covers them: they say which heads the checkpoint's range moved.
        self.outbox = Table(
            f"{p}_outbox", self.metadata,
            Column("position", POSITION, primary_key=True, autoincrement=False),
            Column("aggregate_id", String(36), nullable=False),
            Column("hash", String(64), nullable=False),
            Column("subject", String(256), nullable=False),
            Column("msg_id", String(128), nullable=False),
            Column("envelope", LargeBinary, nullable=False),
            Column("traceparent", String(128), nullable=True),
        )
        # The W3C traceparent of the request that wrote each event, so the relay continues it.
        self.event_trace = Table(
            f"{p}_event_trace", self.metadata,
            Column("position", POSITION, primary_key=True),
            Column("traceparent", String(128), nullable=False),
        )
        self.idempotency = Table(
            f"{p}_idempotency", self.metadata,
            Column("subject", String(128), primary_key=True),
            Column("key", String(128), primary_key=True),
            Column("request_hash", String(64), nullable=False),
            Column("status_code", Integer, nullable=False),
            Column("body", LargeBinary, nullable=False),
            Column("created_at", AwareDateTime(), server_default=func.now()),
        )
        # Which shape each read model was built in (shared.migrations.sync_read_models).
        self.projection_version = Table(
            f"{p}_projection_version", self.metadata,
            Column("projection", String(64), primary_key=True),
            Column("stamp", String(80), nullable=False),
            Column("rebuilt_at", AwareDateTime(), nullable=False),
            Column("events", POSITION, nullable=False),
        )


class Projection:
    """Read models (SQLAlchemy tables) built from this service's own events.

    `apply` runs inside the writer's transaction, so a read model is never ahead of or
    behind its events; `ServiceApplication.rebuild_projections` drops and replays them.
    Bump VERSION when what a read model holds changes but its tables' shape does not: the
    next start rebuilds it (a change of shape does so by itself, see shared.migrations).
    """

    VERSION = 1
    # table -> the columns a rebuild reads that table by: its other indexes are left out of
    # the shadow table and made at the swap (shared/rebuild.py). Tables not named keep all.
    BUILT_UNINDEXED: dict[str, frozenset[str]] = {}

    def __init__(self) -> None:
        self.metadata = MetaData()
        self.at_rest = AtRest()  # for EncryptedText(self.at_rest) columns

    def apply(self, session: Session, event: Any, position: int) -> None:  # pragma: no cover
        raise NotImplementedError

    def apply_many(self, session: Session, events: Sequence[tuple[Any, int]]) -> None:
        """The events of one save, or a rebuild's page, in order, in the caller's
        transaction. A projection may batch them (`RowUpdates`, `BatchedWrites`) as long as
        its rows end as `apply`, one event at a time, would leave them."""
        for event, position in events:
            self.apply(session, event, position)


class RowUpdates:
    """Updates of one table's rows by key, sent as one executemany per run of updates that
    set the same columns: a county-wide save of 20,000 events is a few statements, not
    20,000. Order is kept (a run ends when the columns change); `flush` before anything
    that reads or writes the table otherwise."""

    KEY = "_row_key"  # a bound name no column has

    def __init__(self, session: Session, table: Table, key: str) -> None:
        self.session, self.table, self.key = session, table, table.c[key]
        self._columns: tuple[str, ...] = ()
        self._rows: list[dict[str, Any]] = []

    def add(self, key: str, values: dict[str, Any]) -> None:
        columns = tuple(sorted(values))
        if columns != self._columns:
            self.flush()
            self._columns = columns
        self._rows.append({self.KEY: key, **values})

    def flush(self) -> None:
        if self._rows:
            stmt = update(self.table).where(self.key == bindparam(self.KEY))
            self.session.execute(stmt, self._rows)
            self._rows = []


class BulkInsertRecorder(SQLAlchemyApplicationRecorder):
    """The library's recorder, its events inserted by one executemany INSERT ... RETURNING
    (parameter order kept) instead of an ORM object and flush per event: same table, lock,
    ids and errors, at a county-wide save's size several times faster."""

    def _insert_stored_events(self, session: Session, stored_events: Sequence[StoredEvent],
                              **kwargs: Any) -> Sequence[int]:
        if not stored_events:
            return []
        table = self.events_record_cls.__table__
        self._lock_table(session)
        ids = session.execute(
            insert(table).returning(table.c.id, sort_by_parameter_order=True),
            [{"originator_id": e.originator_id, "originator_version": e.originator_version,
              "topic": e.topic, "state": e.state} for e in stored_events]).scalars().all()
        self._notify_channel(session)
        return list(ids)


class StoreFactory(SQLAlchemyFactory):
    application_recorder_class = BulkInsertRecorder


class BatchedWrites:
    """A projection's writes, as one executemany per run of the same prepared statement:
    the statement construction and compilation SQLAlchemy repeats per call is most of a
    rebuild's cost. Per table the statements keep their order (a row's update after its
    insert, an insert after a delete of the same key); between tables there is no order
    to keep, since nothing reads until `flush`, which must come before any read."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._groups: list[tuple[Any, list[dict[str, Any]]]] = []
        self._last: dict[str, int] = {}  # table name -> index of its newest group

    def add(self, table: Table, statement: Any, rows: dict[str, Any] | list[dict[str, Any]],
            ) -> None:
        rows = [rows] if isinstance(rows, dict) else rows
        if not rows:
            return
        i = self._last.get(table.name)
        if i is not None and self._groups[i][0] is statement:
            self._groups[i][1].extend(rows)
            return
        self._last[table.name] = len(self._groups)
        self._groups.append((statement, list(rows)))

    def flush(self) -> None:
        for statement, rows in self._groups:
            self.session.execute(statement, rows)
        self._groups.clear()
        self._last.clear()


def store_environment(settings: ServiceSettings) -> dict[str, str]:
    env = {"PERSISTENCE_MODULE": "shared.eventstore:StoreFactory",
           "SQLALCHEMY_URL": settings.store_url}
    if settings.store_url.startswith("sqlite"):
        settings.var_dir.mkdir(parents=True, exist_ok=True)
        if (db := sqlite_path(settings.store_url)) is not None:
            ensure_private_file(db)  # before SQLite opens it: its -wal/-shm copy the mode
    if settings.encrypt_at_rest:
        env["CIPHER_TOPIC"] = "eventsourcing.cryptography:AESCipher"
        env["CIPHER_KEY"] = _load_or_create_cipher_key(settings.resolved_cipher_key_file)
    return env


@contextlib.contextmanager
def schema_lock(url: str, service: str) -> Iterator[None]:
    """Replicas starting together on one PostgreSQL create tables one at a time
    (concurrent CREATE TABLE IF NOT EXISTS races on PostgreSQL's catalog)."""
    if not url.startswith("postgresql"):
        yield
        return
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            key = {"k": f"lingshui:schema:{service}"}
            c.execute(text("SELECT pg_advisory_lock(hashtext(:k))"), key)
            try:
                yield
            finally:
                c.execute(text("SELECT pg_advisory_unlock(hashtext(:k))"), key)
    finally:
        engine.dispose()


def _load_or_create_cipher_key(path: Path) -> str:
    if not path.exists():  # a replica that loses the race reads the winner's key
        write_private(path, AESCipher.create_key(num_bytes=32), replace=False)
    return path.read_text().strip()


class ServiceApplication(Application[UUID]):
    """The one writer of a service: commands, queries, and the kernel's bookkeeping."""

    def __init__(self, settings: ServiceSettings, projection: Projection | None = None) -> None:
        self.settings = settings
        self.projection = projection
        self.kernel = KernelTables(self.name)
        self._commit_listeners: list[Callable[[], None]] = []
        self._listeners_lock = threading.Lock()
        self._viewing = threading.local()  # per thread: the relay's, never a request's
        # Seals each event into the outbox at commit (shared/outbox.py); None: the relay
        # seals what this process writes. ServiceRuntime installs it.
        self.sealer: Sealer | None = None
        self.loaded = LoadedValues()  # the audit's "before" of what get/get_many loaded
        self._upserts: dict[tuple[str, tuple[str, ...]], Any] = {}
        with schema_lock(settings.store_url, self.name):
            super().__init__(env=store_environment(settings))
            self.engine: Engine = self.factory.datastore.engine  # type: ignore[attr-defined]
            if projection is not None:
                projection.at_rest.cipher = self.mapper.cipher  # None unless encrypt_at_rest
            # Kernel tables by Alembic revision; read models kept, stamped or rebuilt.
            before, after = migrations.upgrade_kernel(self)
            # What this start did to the schema: `lingshui migrate` reports it.
            self.schema_report = {"kernel_from": before, "kernel_to": after,
                                  "read_models": migrations.sync_read_models(self)}

    # The library merges os.environ into the env; a service's settings are the only source.
    def construct_env(self, name: str, env: Any = None) -> Environment:
        return Environment(name, dict(env or {}))

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(DateAsISO())

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def unit_of_work(self) -> AbstractContextManager[Session]:
        """One database transaction; saves made inside it join it."""
        return self.recorder.transaction(commit=True)  # type: ignore[attr-defined]

    def read_session(self) -> AbstractContextManager[Session]:
        return self.recorder.transaction(commit=False)  # type: ignore[attr-defined]

    def on_commit(self, listener: Callable[[], None]) -> None:
        """Called (from any thread) after events are saved: wakes the outbox relay."""
        with self._listeners_lock:
            self._commit_listeners.append(listener)

    def save(self, *objs: Any, **kwargs: Any) -> list[Recording[UUID]]:
        """The library's save, its aggregates' events collected without the runtime
        Protocol checks it makes per object (25 us each, seconds in a county-wide save)."""
        processing_event: ProcessingEvent[UUID] = ProcessingEvent()
        for obj in objs:
            if isinstance(obj, Aggregate):
                processing_event.events.extend(obj.collect_events())
                processing_event.aggregates[obj.id] = obj
            else:
                processing_event.collect_events(obj)
        processing_event.saved_kwargs.update(kwargs)
        recordings = self._record(processing_event)
        self._take_snapshots(processing_event)
        self._notify(recordings)
        self.notify(processing_event.events)  # the library's deprecated hook, as it calls it
        return recordings

    def _record(self, processing_event: Any) -> list[Recording[UUID]]:
        with _tracer.start_as_current_span(f"{self.name}.store.save"), self.unit_of_work() as s:
            recordings = super()._record(processing_event)
            if self.projection is not None:
                self.projection.apply_many(
                    s, [(r.domain_event, r.notification.id) for r in recordings])
            traceparent = self._traceparent()
            sealed: set[int] = set()
            if self.sealer is not None and recordings:
                # In this transaction: the envelopes commit with their events, or neither.
                sealed = self.sealer.seal_at_commit(s, recordings, processing_event.aggregates,
                                                    traceparent)
            self._remember_trace(s, [r for r in recordings if r.notification.id not in sealed],
                                 traceparent)
        return recordings

    def _notify(self, recordings: list[Recording[UUID]]) -> None:
        for listener in list(self._commit_listeners):
            listener()

    @staticmethod
    def _traceparent() -> str | None:
        carrier: dict[str, str] = {}
        propagate.inject(carrier)
        return carrier.get("traceparent")

    def _remember_trace(self, session: Session, recordings: Sequence[Recording[UUID]],
                        traceparent: str | None) -> None:
        """The trace of events left unsealed, for the relay (a sealed row holds its own)."""
        if traceparent and recordings:
            session.execute(
                self.kernel.event_trace.insert(),
                [{"position": r.notification.id, "traceparent": traceparent} for r in recordings],
            )

    @contextlib.contextmanager
    def viewing(self, aggregate: Any) -> Iterator[None]:
        """While the relay maps one event, `get` at that event's version returns the state the
        audit record already replayed, instead of replaying it a second time."""
        self._viewing.current = aggregate
        try:
            yield
        finally:
            self._viewing.current = None

    def get(self, aggregate_id: UUID, what: str = "aggregate", version: int | None = None) -> Any:
        seen = getattr(self._viewing, "current", None)
        if (seen is not None and version is not None and seen.id == aggregate_id
                and seen.version == version):
            return seen
        try:
            aggregate = self.repository.get(aggregate_id, version=version)
        except AggregateNotFoundError:
            raise NotFound(f"{self.name}.not_found", f"{what} {aggregate_id} not found") from None
        if version is None:
            self.loaded.remember(aggregate)
        return aggregate

    def get_many(self, aggregate_ids: Sequence[UUID], chunk: int = 500) -> dict[UUID, Any]:
        """Many aggregates replayed from one query per `chunk` ids instead of one each (a
        county-wide recomputation loads hundreds of thousands). Same events, same mutators
        as `get`; ids with no events are absent from the answer."""
        recorder: Any = self.recorder
        table = recorder.events_record_cls.__table__
        query = (select(table.c.originator_id, table.c.originator_version, table.c.topic,
                        table.c.state)
                 .where(table.c.originator_id.in_(bindparam("ids", expanding=True)))
                 .order_by(table.c.originator_id, table.c.originator_version))
        out: dict[UUID, Any] = {}
        to_domain_event = self.mapper.to_domain_event
        for i in range(0, len(aggregate_ids), chunk):
            with recorder.transaction(commit=False) as session:
                rows = session.execute(query, {"ids": list(aggregate_ids[i:i + chunk])}).all()
            for r in rows:
                state = bytes(r.state) if isinstance(r.state, memoryview) else r.state
                event = to_domain_event(StoredEvent(
                    originator_id=r.originator_id, originator_version=r.originator_version,
                    topic=r.topic, state=state))
                # event.mutate, as the library's project_aggregate does (without its
                # per-event runtime Protocol check, a third of the replay's time).
                out[event.originator_id] = event.mutate(out.get(event.originator_id))
        # Their "before" for sealing at commit; a load larger than a save that is sealed at
        # commit is a bulk command's, left to the relay: not worth the copies.
        if len(out) <= self.settings.seal_at_commit_max_events:
            remember = self.loaded.remember
            for aggregate in out.values():
                remember(aggregate)
        return out

    def notifications(self, after: int, limit: int) -> Sequence[Notification]:
        return self.recorder.select_notifications(
            start=after, limit=limit, inclusive_of_start=False
        )

    def iter_domain_events(self, batch: int = 500) -> Iterator[tuple[int, Any]]:
        after = 0
        while True:
            page = self.notifications(after, batch)
            if not page:
                return
            for n in page:
                yield n.id, self.mapper.to_domain_event(n)
            after = page[-1].id

    def rebuild_projections(self, batch: int = 500, progress: Any = None) -> int:
        """Replay every event into shadow read models and swap them in (shared/rebuild.py):
        the old ones serve reads meanwhile. Returns events applied."""
        from shared.rebuild import rebuild_own_events

        count = int(rebuild_own_events(self, progress, batch)["own_events"])
        migrations.write_stamp(self, count)  # the models now match this release's shape
        return count

    # --- consumer tracking (inbox) -------------------------------------------------------

    def handled_hash(self, session: Session, upstream: str, position: int) -> str | None:
        """The hash of the copy already handled at this position, or None if none was."""
        t = self.kernel.inbox
        row = session.execute(select(t.c.envelope_hash).where(
            t.c.upstream == upstream, t.c.position == position)).first()
        return None if row is None else str(row[0])

    def record_handled(self, session: Session, upstream: str, position: int, type_: str,
                       envelope_hash: str) -> None:
        session.execute(self.kernel.inbox.insert().values(
            upstream=upstream, position=position, event_type=type_,
            envelope_hash=envelope_hash))

    def upstream_head(self, session: Session, upstream: str,
                      aggregate_id: str) -> tuple[str, int] | None:
        t = self.kernel.upstream_heads
        row = session.execute(select(t.c.last_hash, t.c.position).where(
            t.c.upstream == upstream, t.c.aggregate_id == aggregate_id)).first()
        return None if row is None else (str(row[0]), int(row[1]))

    def set_upstream_head(self, session: Session, upstream: str, aggregate_id: str,
                          last_hash: str, position: int) -> None:
        self.upsert(session, self.kernel.upstream_heads, ["upstream", "aggregate_id"], [
            {"upstream": upstream, "aggregate_id": aggregate_id, "last_hash": last_hash,
             "position": position}])

    def handled_with_hash(self, session: Session, upstream: str, envelope_hash: str) -> bool:
        """Did this consumer handle an envelope with this hash (before heads were kept)?"""
        t = self.kernel.inbox
        return session.execute(select(t.c.position).where(
            t.c.upstream == upstream, t.c.envelope_hash == envelope_hash).limit(1)).first() \
            is not None

    # --- relay bookkeeping ---------------------------------------------------------------

    def relay_position(self, relay: str) -> int:
        with self.read_session() as s:
            return self.relay_position_in(s, relay)

    def relay_position_in(self, s: Session, relay: str) -> int:
        t = self.kernel.relay_position
        row = s.execute(select(t.c.position).where(t.c.relay == relay)).first()
        return int(row[0]) if row else 0

    def set_relay_position(self, s: Session, relay: str, position: int) -> None:
        self.upsert(s, self.kernel.relay_position, ["relay"],
                    [{"relay": relay, "position": position}])

    def chain_heads(self, aggregate_ids: Sequence[str]) -> dict[str, str]:
        """The hash of each aggregate's chain head."""
        with self.read_session() as s:
            return {a: h for a, (h, _v) in self.chain_heads_in(s, aggregate_ids).items()}

    # Sealing at commit runs these three statements in every write transaction: as driver
    # SQL (no statement building, no compilation) they cost a tenth of SQLAlchemy Core's.

    def _placeholders(self, n: int) -> str:
        return ", ".join(["?" if self.dialect == "sqlite" else "%s"] * n)

    def chain_heads_in(self, s: Session, aggregate_ids: Sequence[str],
                       ) -> dict[str, tuple[str, int | None]]:
        """(hash, aggregate version) of each aggregate's chain head, in the caller's
        transaction."""
        c, table = s.connection(), self.kernel.chain_heads.name
        out: dict[str, tuple[str, int | None]] = {}
        for i in range(0, len(aggregate_ids), 500):
            ids = list(aggregate_ids[i:i + 500])
            rows = c.exec_driver_sql(
                f"SELECT aggregate_id, last_hash, version FROM {table} "
                f"WHERE aggregate_id IN ({self._placeholders(len(ids))})", tuple(ids)).all()
            out.update({r[0]: (r[1], r[2]) for r in rows})
        return out

    def move_chain_heads(self, s: Session, heads: Sequence[tuple[str, str, int, int]]) -> None:
        """Upsert (aggregate id, hash, position, version) rows."""
        if heads:
            s.connection().exec_driver_sql(
                f"INSERT INTO {self.kernel.chain_heads.name} "
                f"(aggregate_id, last_hash, position, version) VALUES ({self._placeholders(4)})"
                " ON CONFLICT (aggregate_id) DO UPDATE SET last_hash = excluded.last_hash,"
                " position = excluded.position, version = excluded.version", list(heads))

    OUTBOX_COLUMNS = ("position", "aggregate_id", "hash", "subject", "msg_id", "envelope",
                      "traceparent")

    def insert_outbox(self, s: Session, rows: Sequence[tuple[Any, ...]]) -> None:
        """Outbox rows, their values in OUTBOX_COLUMNS' order."""
        if rows:
            s.connection().exec_driver_sql(
                f"INSERT INTO {self.kernel.outbox.name} ({', '.join(self.OUTBOX_COLUMNS)}) "
                f"VALUES ({self._placeholders(len(self.OUTBOX_COLUMNS))})", list(rows))

    def traces_in(self, s: Session, first: int, last: int) -> dict[int, str]:
        t = self.kernel.event_trace
        rows = s.execute(
            select(t.c.position, t.c.traceparent).where(t.c.position.between(first, last))
        ).all()
        return {int(r[0]): r[1] for r in rows}

    def at_rest_bytes(self, data: bytes) -> bytes:
        cipher = self.mapper.cipher
        return data if cipher is None else bytes(cipher.encrypt(data))

    def from_rest_bytes(self, data: bytes) -> bytes:
        cipher = self.mapper.cipher
        return data if cipher is None else bytes(cipher.decrypt(data))

    def outbox_after(self, position: int, limit: int) -> list[tuple[int, Any]]:
        """The next `limit` notifications after `position`, each with its outbox row (None:
        not sealed yet). Driver SQL: the relay reads every row, Core's row processing cost
        a tenth of its time."""
        events = self.recorder.events_record_cls.__table__.name  # type: ignore[attr-defined]
        outbox = self.kernel.outbox.name
        with self.read_session() as s:
            rows = s.connection().exec_driver_sql(
                f"SELECT e.id, o.subject, o.msg_id, o.envelope, o.traceparent FROM {events} e"
                f" LEFT JOIN {outbox} o ON o.position = e.id WHERE e.id > {int(position)}"
                f" ORDER BY e.id LIMIT {int(limit)}").all()
        return [(int(r[0]), r if r[3] is not None else None) for r in rows]

    def advance_relay(self, relay: str, from_position: int, position: int) -> None:
        """Record what the relay published: its position (the chain heads moved when the
        events were sealed).

        Fenced: the position moves only from where this batch started, so a relay that lost
        its lease mid-batch cannot rewind it.
        """
        t = self.kernel.relay_position
        with self.unit_of_work() as s:
            if from_position == 0:
                s.execute(t.insert().values(relay=relay, position=position))
            else:
                moved = s.execute(update(t).where(t.c.relay == relay,
                                                  t.c.position == from_position)
                                  .values(position=position)).rowcount
                if moved != 1:
                    raise StaleRelay(f"{relay} moved past {from_position} meanwhile")
            # Trace context is only needed until the event is published.
            s.execute(delete(self.kernel.event_trace).where(
                self.kernel.event_trace.c.position <= position))

    def upsert(self, s: Session, table: Table, keys: list[str],
                rows: list[dict[str, Any]]) -> None:
        """One executemany upsert: compiled once however many rows, and built once per
        table (building it compiles `excluded`: a millisecond per commit that seals)."""
        if not rows:
            return
        key = (table.name, tuple(keys))
        statement = self._upserts.get(key)
        if statement is None:
            ins = (pg_insert if self.dialect == "postgresql" else sqlite_insert)(table)
            statement = self._upserts[key] = ins.on_conflict_do_update(
                index_elements=keys, set_={c.name: ins.excluded[c.name]
                                           for c in table.columns if c.name not in keys})
        s.execute(statement, rows)

    def ping(self) -> None:
        with self.engine.connect() as c:
            c.execute(text("SELECT 1"))
