"""The relay lease: exactly one active outbox relay per service, however many replicas.

PostgreSQL: a session-level advisory lock (`pg_try_advisory_lock`) held on a dedicated
connection outside the pool. PostgreSQL keeps it exactly as long as that session lives, so
it is released by a clean stop, by a crash (the socket closes; the server ends the session
at once) and by a machine that vanished (TCP keepalives end the session). Standbys try again
every `relay_lease_retry_s` and the first to succeed takes over from the recorded position;
anything the dead relay published but did not record is republished byte-identically and
dropped by JetStream's duplicate window. SQLite (one process, the embedded stack): an
exclusive `flock` on a file beside the database.

Why not a NATS KV lease: the lock must fence what the relay reads and writes, which is the
database; a lease in another system can expire while the holder still writes its position.
The position update is fenced as well (see `ServiceApplication.advance_relay`).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import socket
from pathlib import Path
from typing import Protocol

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import NullPool

from shared.eventstore import ServiceApplication

log = logging.getLogger(__name__)


class RelayLease(Protocol):
    def acquire(self) -> bool:
        """Hold the lease: True if this process holds it now (checked, not remembered)."""

    def release(self) -> None: ...


def lease_key(name: str) -> int:
    """A stable signed 64-bit advisory-lock key per relay (services may share a database)."""
    return int.from_bytes(hashlib.sha256(f"lingshui:relay:{name}".encode()).digest()[:8],
                          "big", signed=True)


def holder_name(relay: str) -> str:
    """Shown in pg_stat_activity.application_name: which replica holds the lease."""
    return f"{relay}@{socket.gethostname()}:{os.getpid()}"[:63]


class AdvisoryLease:
    """PostgreSQL: `pg_try_advisory_lock` on a connection of its own (NullPool: closing it
    ends the session, and nothing else ever runs on it)."""

    def __init__(self, engine: Engine, relay: str) -> None:
        self.key = lease_key(relay)
        self.relay = relay
        # Client keepalives too, so a holder cut off from the database notices and stops.
        self._engine = create_engine(
            engine.url, poolclass=NullPool,
            connect_args={"application_name": holder_name(relay), "keepalives": 1,
                          "keepalives_idle": 5, "keepalives_interval": 2,
                          "keepalives_count": 3, "connect_timeout": 5})
        self._conn: Connection | None = None

    def acquire(self) -> bool:
        if self._conn is not None:
            try:
                # The lock lives as long as this session; a live session still holds it.
                self._conn.execute(text("SELECT 1"))
                return True
            except Exception:
                log.warning("relay %s lost its lease connection; stepping down", self.relay)
                self._drop()
                return False
        conn = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        try:
            got = bool(conn.execute(text("SELECT pg_try_advisory_lock(:k)"),
                                    {"k": self.key}).scalar())
        except Exception:
            conn.close()
            raise
        if got:
            self._conn = conn
            log.info("relay %s: lease acquired (%s)", self.relay, holder_name(self.relay))
        else:
            conn.close()
        return got

    def release(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self.key})
            self._drop()

    def _drop(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None

    def dispose(self) -> None:
        self.release()
        self._engine.dispose()


class FileLease:
    """SQLite: an exclusive, non-blocking flock beside the database file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> bool:
        if self._fd is not None:
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor releases the flock
            self._fd = None

    def dispose(self) -> None:
        self.release()


def lease_for(app: ServiceApplication, relay: str) -> AdvisoryLease | FileLease:
    if app.dialect == "postgresql":
        return AdvisoryLease(app.engine, relay)
    database = app.engine.url.database or f"{app.name}.db"
    return FileLease(Path(f"{database}.relay.lock"))
