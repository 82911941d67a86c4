"""Field encryption: AES-256-GCM for sensitive values in events and on the bus.

An encrypted field carries its key id and a mask, so a consumer without the key still has
something to display; a keyed hash lets services de-duplicate people by ID number without
storing the plaintext. (Electronic seals over documents are shared/seals.py.)
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import os
import re
import secrets
from collections.abc import Mapping
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as crypto_hmac
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic import BaseModel, ConfigDict, Field

from shared.files import write_private

__all__ = ["DecryptionError", "EncryptedField", "Keyring", "KeyringError", "keyed_hash"]

_B64URL = r"^[A-Za-z0-9_-]+$"
_KID = re.compile(r"[A-Za-z0-9._:-]{1,64}")  # no "|": it separates kid and purpose in the AD
_KEY_BYTES = 32  # AES-256
_NONCE_BYTES = 12  # 96-bit GCM nonce


class DecryptionError(Exception):
    """An encrypted field cannot be decrypted: unknown key id, tampered, or wrong purpose."""


class KeyringError(ValueError):
    """A keyring file or constructor argument is malformed."""


class EncryptedField(BaseModel):
    """An encrypted field as it travels on the bus.

    `mask` is what a consumer without the key displays.  It is *not*
    authenticated: trust it only for display, never for decisions.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    kid: str = Field(min_length=1)
    nonce: str = Field(pattern=_B64URL)  # base64url, unpadded
    ciphertext: str = Field(pattern=_B64URL)  # base64url, unpadded; includes the GCM tag
    mask: str


def _b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def keyed_hash(value: str, key: bytes) -> str:
    """HMAC-SHA256 of the UTF-8 value, hex; equal inputs match only under the same key."""
    if not key:
        raise ValueError("keyed_hash needs a non-empty key")
    mac = crypto_hmac.HMAC(key, hashes.SHA256())
    mac.update(value.encode("utf-8"))
    return mac.finalize().hex()


def _check_kid(kid: str) -> None:
    if not isinstance(kid, str) or not _KID.fullmatch(kid):
        raise KeyringError("kid must be 1-64 characters from A-Z a-z 0-9 . _ : -")


class Keyring:
    """AES-256-GCM field keys by key id, plus a separate HMAC key for fingerprints.

    Rotation adds a key and makes it current; old keys stay so older events can
    still be decrypted.  The hash key never rotates: fingerprints stored in read
    models must stay comparable.  `repr` shows key ids only, never key material.
    """

    def __init__(self, keys: Mapping[str, bytes], current: str, hash_key: bytes) -> None:
        if not keys:
            raise KeyringError("keyring needs at least one key")
        for kid, key in keys.items():
            _check_kid(kid)
            if not isinstance(key, bytes) or len(key) != _KEY_BYTES:
                raise KeyringError(f"key {kid!r} must be {_KEY_BYTES} bytes")
        if not isinstance(current, str) or current not in keys:
            raise KeyringError("current kid is not in the keyring")
        if not isinstance(hash_key, bytes) or len(hash_key) != _KEY_BYTES:
            raise KeyringError(f"hash_key must be {_KEY_BYTES} bytes")
        self._keys = dict(keys)
        self._current = current
        self._hash_key = hash_key
        self._aead: dict[str, AESGCM] = {}  # per kid: a kid's key never changes
        # Keyed once and copied per value: a bank file's lines are fingerprinted one by one.
        self._hmac = crypto_hmac.HMAC(hash_key, hashes.SHA256())

    def _aesgcm(self, kid: str) -> AESGCM:
        aead = self._aead.get(kid)
        if aead is None:
            aead = self._aead[kid] = AESGCM(self._keys[kid])
        return aead

    def __repr__(self) -> str:
        return f"Keyring(current={self._current!r}, kids={sorted(self._keys)!r})"

    @property
    def current_kid(self) -> str:
        return self._current

    @property
    def kids(self) -> frozenset[str]:
        return frozenset(self._keys)

    # -- construction and files ------------------------------------------------

    @classmethod
    def generate(cls, kid: str) -> Keyring:
        return cls(
            {kid: AESGCM.generate_key(bit_length=256)},
            current=kid,
            hash_key=secrets.token_bytes(_KEY_BYTES),
        )

    @classmethod
    def from_json(cls, text: str) -> Keyring:
        try:
            data = json.loads(text)
            keys = {kid: base64.b64decode(k, validate=True) for kid, k in data["keys"].items()}
            current = data["current"]
            hash_key = base64.b64decode(data["hash_key"], validate=True)
        except (ValueError, KeyError, TypeError, AttributeError, binascii.Error) as exc:
            # Don't chain: the exception text could quote key material.
            raise KeyringError(f"malformed keyring ({type(exc).__name__})") from None
        return cls(keys, current=current, hash_key=hash_key)

    def to_json(self) -> str:
        return json.dumps(
            {
                "current": self._current,
                "keys": {kid: base64.b64encode(k).decode("ascii") for kid, k in self._keys.items()},
                "hash_key": base64.b64encode(self._hash_key).decode("ascii"),
            },
            indent=2,
            sort_keys=True,
        )

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> Keyring:
        return cls.from_json(Path(path).read_text(encoding="utf-8"))

    def to_file(self, path: str | os.PathLike[str]) -> None:
        """Write (or atomically replace) the keyring file with mode 0o600."""
        _write_private(Path(path), self.to_json(), replace=True)

    @classmethod
    def load_or_create(cls, path: str | os.PathLike[str], kid: str = "local-1") -> Keyring:
        """The local embedded default: load the file, or create it (and its directory).

        Creation never overwrites: if another process wins the race, its
        keyring is loaded instead, so nobody encrypts with a key that gets lost.
        """
        path = Path(path)
        if not path.exists():
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            with contextlib.suppress(FileExistsError):  # lost the race: load the winner's
                _write_private(path, cls.generate(kid).to_json(), replace=False)
        return cls.from_file(path)

    # -- keys --------------------------------------------------------------------

    def rotate(self, new_kid: str) -> None:
        """Add a fresh key under `new_kid` and encrypt with it from now on."""
        _check_kid(new_kid)
        if new_kid in self._keys:
            raise KeyringError(f"kid {new_kid!r} already exists")
        self._keys[new_kid] = AESGCM.generate_key(bit_length=256)
        self._current = new_kid

    # -- encryption --------------------------------------------------------------

    def encrypt(self, value: str, mask: str, purpose: str,
                nonce_context: str | None = None) -> EncryptedField:
        """Encrypt `value` for one field/purpose (e.g. "applicant.resident_id").

        The associated data binds kid and purpose, so an encrypted value copied into
        another field, or relabelled with another kid, fails to decrypt.

        `nonce_context` (e.g. the event id) makes the result deterministic: the outbox
        relay must produce byte-identical envelopes when it republishes after a crash,
        or the hash chain would fork. The nonce is an HMAC of (purpose, context, value),
        so one nonce never encrypts two different plaintexts under one key.
        """
        if not purpose:
            raise ValueError("purpose must not be empty")
        if value and mask == value:
            raise ValueError("mask equals the plaintext; pass a masked display value")
        kid = self._current
        if nonce_context is None:
            nonce = os.urandom(_NONCE_BYTES)
        else:
            seed = f"{purpose}|{nonce_context}|{value}"
            nonce = bytes.fromhex(keyed_hash(seed, self._keys[kid]))[:_NONCE_BYTES]
        ct = self._aesgcm(kid).encrypt(nonce, value.encode("utf-8"), _aad(kid, purpose))
        return EncryptedField(
            kid=kid, nonce=_b64url_encode(nonce), ciphertext=_b64url_encode(ct), mask=mask
        )

    def decrypt(self, field: EncryptedField, purpose: str) -> str:
        if field.kid not in self._keys:
            raise DecryptionError("unknown key id")
        try:
            nonce = _b64url_decode(field.nonce)
            ct = _b64url_decode(field.ciphertext)
        except (ValueError, binascii.Error):
            raise DecryptionError("encrypted value is not valid base64url") from None
        if len(nonce) != _NONCE_BYTES:
            raise DecryptionError("nonce has the wrong length")
        try:
            plain = self._aesgcm(field.kid).decrypt(nonce, ct, _aad(field.kid, purpose))
        except InvalidTag:
            raise DecryptionError(
                "encrypted value is tampered or belongs to another purpose") from None
        return plain.decode("utf-8")

    # -- fingerprints ------------------------------------------------------------

    def fingerprint(self, value: str) -> str:
        """Keyed hash of a resident ID number for de-duplication (…x and …X match):
        `keyed_hash(value.strip().upper(), hash_key)`."""
        mac = self._hmac.copy()
        mac.update(value.strip().upper().encode("utf-8"))
        return mac.finalize().hex()


def _aad(kid: str, purpose: str) -> bytes:
    return f"{kid}|{purpose}".encode()


def _write_private(path: Path, text: str, *, replace: bool) -> None:
    """0600 and atomic (shared.files); FileExistsError if not replacing and it exists."""
    if not write_private(path, text, replace=replace):
        raise FileExistsError(path)
