"""Files only the service's own user may read (mode 0600): keys, secrets, SQLite databases.

The one place the project creates such files, so none is ever world-readable, not even
for the moment between creating and chmod-ing it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from pathlib import Path

log = logging.getLogger(__name__)

PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700
# SQLite's own companions: created with the database file's mode (SQLite copies it).
SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")


def write_private(path: Path, data: bytes | str, *, replace: bool = True) -> bool:
    """Write `path` mode 0600, never half-written. True if this call wrote it.

    The temp file is 0600 from the start, then moved into place: replaced, or (with
    `replace=False`) linked only if no file is there yet, so a file another process made
    first is kept and this call returns False.
    """
    path = Path(path)
    path.parent.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), PRIVATE_FILE)
            f.write(raw)
            f.flush()
            os.fsync(f.fileno())
        if replace:
            os.replace(tmp, path)
            return True
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
        return True
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def ensure_private_file(path: Path) -> None:
    """Create `path` empty and 0600 if missing; tighten it to 0600 if it exists (a file from
    before this rule). For SQLite: its -wal and -shm then inherit 0600."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE))
    for p in (path, *(path.with_name(path.name + s) for s in SQLITE_COMPANIONS)):
        try:
            if p.stat().st_mode & 0o777 != PRIVATE_FILE:
                p.chmod(PRIVATE_FILE)
        except FileNotFoundError:
            pass
        except PermissionError:  # another user's file: say so, but still start
            log.warning("cannot make %s private (mode 0600): not its owner", p)


def sqlite_path(url: str) -> Path | None:
    """The database file of a sqlite:/// URL (None for memory or other databases)."""
    for prefix in ("sqlite:///", "sqlite+pysqlite:///"):
        if url.startswith(prefix):
            rest = url[len(prefix):].split("?", 1)[0]
            return Path(rest) if rest and rest != ":memory:" else None
    return None
