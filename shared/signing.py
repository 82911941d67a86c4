"""Envelope signatures: each service signs what its relay publishes with its own Ed25519 key,
and every consumer verifies against a trust list before any effect.

Separate from JWT keys (people) and seals (documents): a bus key says "this service's relay
published this envelope". The signature is over `lingshui-envelope/v1|<source>|<kid>|<hash>`,
and the hash covers every other field, so signing costs one Ed25519 signature per envelope.

Files (local stack: under var/keys, made by `ensure_bus_keys`; production: provisioned by
deploy/compose/make_secrets.py, never created by a service):
- `bus-signing/<service>.ed25519.pem`: the service's current private key (mode 0600);
- `bus-trust.json`: `{"<service>": {"<kid>": "<base64 raw public key>"}}` for every service.
The kid is `<service>-<sha256(public)[:16]>`, so a new key is a new kid. Rotation: add the new
public key to the trust list everywhere first, then replace the private key file; the old kid
stays trusted so that stored envelopes keep verifying.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey

from shared.files import write_private

if TYPE_CHECKING:
    from shared.settings import ServiceSettings

STATEMENT = "lingshui-envelope/v1"
SIGNING_DIR = "bus-signing"
TRUST_FILE = "bus-trust.json"


def statement(source: str, kid: str, envelope_hash: str) -> bytes:
    return f"{STATEMENT}|{source}|{kid}|{envelope_hash}".encode()


def _raw(public: Ed25519PublicKey) -> bytes:
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def kid_for(service: str, public: Ed25519PublicKey) -> str:
    return f"{service}-{hashlib.sha256(_raw(public)).hexdigest()[:16]}"


class BusSigner:
    """One service's signing key: what `Envelope.sealed(signer=...)` calls."""

    def __init__(self, service: str, key: Ed25519PrivateKey) -> None:
        self.service, self._key = service, key
        self.kid = kid_for(service, key.public_key())

    def sign(self, envelope_hash: str) -> str:
        sig = self._key.sign(statement(self.service, self.kid, envelope_hash))
        return base64.b64encode(sig).decode("ascii")

    @property
    def public_b64(self) -> str:
        return base64.b64encode(_raw(self._key.public_key())).decode("ascii")

    @classmethod
    def from_file(cls, service: str, path: Path) -> BusSigner:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError(f"{path} is not an Ed25519 private key")
        return cls(service, key)

    @classmethod
    def generate(cls, service: str) -> BusSigner:
        return cls(service, Ed25519PrivateKey.generate())


class TrustList:
    """kid → public key, per service. A kid is trusted only for the service it is listed
    under: intake's key cannot sign review's envelopes."""

    def __init__(self, keys: Mapping[str, Mapping[str, str]],
                 unsigned_up_to: Mapping[str, int] | None = None) -> None:
        # Per source, the last position published before signing existed: those stored
        # envelopes (a stream's history) are taken unsigned, on their hash and chain only.
        self.unsigned_up_to = dict(unsigned_up_to or {})
        # Verified with libsodium (PyNaCl): half the time of `cryptography`'s here, and it
        # releases the GIL, so a rebuild verifies one batch while it stores another.
        self._keys: dict[str, dict[str, VerifyKey]] = {}
        for service, kids in keys.items():
            for kid, b64 in kids.items():
                raw = base64.b64decode(b64, validate=True)
                Ed25519PublicKey.from_public_bytes(raw)  # refuses what is not a point
                self._keys.setdefault(service, {})[kid] = VerifyKey(raw)

    @classmethod
    def from_file(cls, path: Path, unsigned_up_to: Mapping[str, int] | None = None) -> TrustList:
        return cls(json.loads(path.read_text(encoding="utf-8")), unsigned_up_to)

    def services(self) -> list[str]:
        return sorted(self._keys)

    def verify(self, source: str, kid: str | None, sig: str | None,
               envelope_hash: str, position: int | None = None) -> str | None:
        """None if `source` signed this hash; otherwise the reason it did not."""
        if not kid and not sig and position is not None and \
                position <= self.unsigned_up_to.get(source, 0):
            return None  # published before signing (bus_unsigned_up_to)
        if not kid or not sig:
            return "unsigned"
        key = self._keys.get(source, {}).get(kid)
        if key is None:
            if any(kid in kids for kids in self._keys.values()):
                return "wrong_signer"  # another service's key
            return "unknown_key"
        try:
            key.verify(statement(source, kid, envelope_hash),
                       base64.b64decode(sig, validate=True))
        except (BadSignatureError, binascii.Error, ValueError, TypeError):
            return "bad_signature"
        return None


def signing_key_path(keys_dir: Path, service: str) -> Path:
    return keys_dir / SIGNING_DIR / f"{service}.ed25519.pem"


def _write_private_once(path: Path, data: bytes) -> bool:
    """Link a fully written temp file into place: a reader never sees half a key, and a key
    another process wrote first is kept."""
    return write_private(path, data, replace=False)


def _replace_private(path: Path, text: str) -> None:
    write_private(path, text)


def write_signing_key(path: Path) -> bool:
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption())
    return _write_private_once(path, pem)


def ensure_bus_keys(keys_dir: Path, services: Iterable[str]) -> Path:
    """Local stack and tests: make each service's signing key if missing and (re)write the
    trust list with every current key, keeping kids listed before (rotated keys stay
    trusted). Safe to race: keys are made once, the trust list is replaced atomically and
    converges on the same content."""
    trust_path = keys_dir / TRUST_FILE
    listed: dict[str, dict[str, str]] = {}
    if trust_path.exists():
        listed = json.loads(trust_path.read_text(encoding="utf-8"))
    for service in services:
        path = signing_key_path(keys_dir, service)
        if not path.exists():
            write_signing_key(path)
        signer = BusSigner.from_file(service, path)
        listed.setdefault(service, {})[signer.kid] = signer.public_b64
    keys_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    _replace_private(trust_path, json.dumps(listed, indent=1, sort_keys=True))
    return trust_path


def bus_keys(settings: ServiceSettings) -> tuple[BusSigner, TrustList]:
    """A service's signer and trust list from its settings; on the local stack (and only
    there) missing files are made first."""
    from shared.contracts.common import SERVICES

    key_file, trust_file = settings.resolved_signing_key_file, settings.resolved_trust_list_file
    if settings.bus_keys_create_missing and not (key_file.exists() and trust_file.exists()):
        ensure_bus_keys(trust_file.parent, SERVICES)
    return (BusSigner.from_file(settings.service, key_file),
            TrustList.from_file(trust_file, settings.bus_unsigned_up_to))
