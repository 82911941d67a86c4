"""Test doubles of upstream relays sign as that service's relay would, with the session's
keys (tests/conftest.py `keys_dir` sets KEYS_DIR)."""

from __future__ import annotations

import tempfile
from functools import cache
from pathlib import Path
from typing import Any

from shared.contracts import Envelope
from shared.contracts.common import SERVICES
from shared.signing import BusSigner, ensure_bus_keys, signing_key_path

KEYS_DIR: Path | None = None


@cache
def _own_keys() -> Path:  # pure tests without the fixture: any valid keys will do
    d = Path(tempfile.mkdtemp(prefix="bus-keys-"))
    ensure_bus_keys(d, SERVICES)
    return d


@cache
def _signer(service: str, directory: Path) -> BusSigner:
    return BusSigner.from_file(service, signing_key_path(directory, service))


def signer(service: str) -> BusSigner:
    return _signer(service, KEYS_DIR or _own_keys())


def sealed(prev_hash: str, **fields: Any) -> Envelope:
    """Envelope.sealed, signed by the envelope's source."""
    return Envelope.sealed(prev_hash, signer=signer(fields["source"]), **fields)
