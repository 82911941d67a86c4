"""Electronic seals (电子印章): one Ed25519 key per township, and one for the county, as PEM
files `<directory>/<division code>.ed25519.pem`.

A seal signs `lingshui-seal/v1|<owner>|<subject>|<document_kind>|<sha256>`: the document's
hash bound to who seals it and for what (subject: usually the month), so a signature cannot
be moved to another township's or month's document. The public key travels in every seal,
so a sealed document stays verifiable after the key is rotated.

Keys are provisioned by the county's seal authority (deploy/compose/make_secrets.py).
`create_missing=True` is for the local stack only: it makes a missing key once (mode 0600,
never overwriting a key another process wrote first). Wherever replicas run it must be off,
or two replicas could each invent a different "seal" for the same township.

Disbursement (statistics tables, the fund plan) and archive (the monthly filing, 报备) both
seal with these keys; deploy/finance_consumer.py verifies with the same statement.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import re
import threading
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from shared.errors import RuleViolation
from shared.files import write_private

STATEMENT_VERSION = "lingshui-seal/v1"
_OWNER = re.compile(r"^[0-9]{6,12}$")  # a division code: county or township


def seal_statement(owner: str, subject: str, document_kind: str, sha256: str) -> bytes:
    """What a seal signs."""
    return f"{STATEMENT_VERSION}|{owner}|{subject}|{document_kind}|{sha256}".encode()


def sha256_hex(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def key_id_of(public_raw: bytes) -> str:
    return hashlib.sha256(public_raw).hexdigest()[:16]


def key_path(directory: Path, owner: str) -> Path:
    if not _OWNER.match(owner):
        raise ValueError(f"seal owner must be a division code, not {owner!r}")
    return directory / f"{owner}.ed25519.pem"


def create_key_file(path: Path) -> bool:
    """Write a new private key at `path` unless one is there. True if this call made it.

    Written to a temporary file and linked into place, so a reader never sees half a key
    and a key another process wrote first is kept.
    """
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption())
    return write_private(path, pem, replace=False)


def _raw(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


@dataclass(frozen=True)
class Seal:
    """A seal as contracts carry it (shared.contracts.disbursement.Seal)."""

    owner: str  # division code of the sealing township or county
    document_kind: str
    sha256: str
    signature: str  # base64 Ed25519 over seal_statement(...)
    key_id: str
    public_key: str  # base64 raw Ed25519 public key

    def to_wire(self) -> dict[str, str]:
        return asdict(self)


class SealKeys:
    """The seal keys in one directory, loaded once per owner.

    `service` names the rule code of a missing key (`<service>.seal_key_missing`), so the
    caller's problem+json says whose configuration is incomplete.
    """

    def __init__(self, directory: Path, *, create_missing: bool = False,
                 service: str = "seals") -> None:
        self.directory, self.create_missing, self.service = directory, create_missing, service
        self._cache: dict[str, Ed25519PrivateKey] = {}
        self._lock = threading.Lock()

    def _key(self, owner: str) -> Ed25519PrivateKey:
        path = key_path(self.directory, owner)
        with self._lock:
            if owner not in self._cache:
                if not path.exists():
                    if not self.create_missing:
                        raise RuleViolation(f"{self.service}.seal_key_missing",
                                            f"no seal key is provisioned for {owner}",
                                            field="township")
                    create_key_file(path)
                key = serialization.load_pem_private_key(path.read_bytes(), None)
                if not isinstance(key, Ed25519PrivateKey):
                    raise RuntimeError(f"{path} is not an Ed25519 private key")
                self._cache[owner] = key
            return self._cache[owner]

    def key_id(self, owner: str) -> str:
        return key_id_of(_raw(self._key(owner).public_key()))

    def seal(self, owner: str, subject: str, document_kind: str, content: bytes) -> Seal:
        key = self._key(owner)
        digest = sha256_hex(content)
        public = _raw(key.public_key())
        signature = key.sign(seal_statement(owner, subject, document_kind, digest))
        return Seal(owner=owner, document_kind=document_kind, sha256=digest,
                    signature=base64.b64encode(signature).decode(),
                    key_id=key_id_of(public), public_key=base64.b64encode(public).decode())


def seal_valid(seal: Seal | Mapping[str, Any], subject: str,
               content: bytes | None = None) -> bool:
    """Does the seal sign this subject (and, if given, exactly these bytes)?"""
    s = seal.to_wire() if isinstance(seal, Seal) else seal
    if content is not None and sha256_hex(content) != s["sha256"]:
        return False
    with contextlib.suppress(InvalidSignature, ValueError, KeyError, TypeError):
        Ed25519PublicKey.from_public_bytes(base64.b64decode(s["public_key"])).verify(
            base64.b64decode(s["signature"]),
            seal_statement(s["owner"], subject, s["document_kind"], s["sha256"]))
        return True
    return False
