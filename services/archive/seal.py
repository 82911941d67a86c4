"""The township's electronic seal (电子印章) on its monthly filing, made the way the statistics
table is sealed: Ed25519 over `lingshui-seal/v1|<owner>|<month>|<document_kind>|<sha256>`,
one key per township as a PEM file under `<seal_keys_dir>/<township>.ed25519.pem`.

The directory defaults to `<var_dir>/keys/seals`, the same place the disbursement service
keeps its seals, so on one host both documents carry the same township seal. In production
the county's seal authority provisions the key files; a missing key is created locally
(mode 0600, never overwriting a key another process wrote first) unless
`create_missing` is off, as it should be wherever replicas run. The public key travels in
every submission, so a sealed filing stays verifiable after a key rotation.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import re
import tempfile
import threading
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from shared.errors import RuleViolation

_OWNER = re.compile(r"^[0-9]{6,12}$")  # a division code


def seal_statement(owner: str, subject: str, document_kind: str, sha256: str) -> bytes:
    """Binds the hash to who seals and for what: a signature cannot move to another
    township's or month's document."""
    return f"lingshui-seal/v1|{owner}|{subject}|{document_kind}|{sha256}".encode()


def _raw(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


class SealKeys:
    def __init__(self, directory: Path, create_missing: bool = True) -> None:
        self.directory, self.create_missing = directory, create_missing
        self._cache: dict[str, Ed25519PrivateKey] = {}
        self._lock = threading.Lock()

    def _key(self, owner: str) -> Ed25519PrivateKey:
        if not _OWNER.match(owner):
            raise ValueError(f"seal owner must be a division code, not {owner!r}")
        with self._lock:
            if owner not in self._cache:
                path = self.directory / f"{owner}.ed25519.pem"
                if not path.exists():
                    if not self.create_missing:
                        # A key made up by one replica would be a seal nobody issued.
                        raise RuleViolation("archive.seal_key_missing",
                                            f"no seal key is provisioned for {owner}",
                                            field="township")
                    self._create(path)
                key = serialization.load_pem_private_key(path.read_bytes(), None)
                assert isinstance(key, Ed25519PrivateKey)
                self._cache[owner] = key
            return self._cache[owner]

    def _create(self, path: Path) -> None:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption())
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".seal-")
        try:
            os.fchmod(fd, 0o600)
            os.write(fd, pem)
            os.close(fd)
            with contextlib.suppress(FileExistsError):  # another process won: keep its key
                os.link(tmp, path)
        finally:
            os.unlink(tmp)

    def seal(self, owner: str, subject: str, document_kind: str,
             content: bytes) -> dict[str, Any]:
        """The seal as the contracts carry it (shared.contracts.disbursement.Seal)."""
        key = self._key(owner)
        digest = hashlib.sha256(content).hexdigest()
        public = _raw(key.public_key())
        return {"owner": owner, "document_kind": document_kind, "sha256": digest,
                "signature": base64.b64encode(key.sign(
                    seal_statement(owner, subject, document_kind, digest))).decode(),
                "key_id": hashlib.sha256(public).hexdigest()[:16],
                "public_key": base64.b64encode(public).decode()}


def seal_valid(seal: dict[str, Any], subject: str, content: bytes | None = None) -> bool:
    """Does the seal sign this subject (and, if given, exactly these bytes)?"""
    if content is not None and hashlib.sha256(content).hexdigest() != seal["sha256"]:
        return False
    try:
        Ed25519PublicKey.from_public_bytes(base64.b64decode(seal["public_key"])).verify(
            base64.b64decode(seal["signature"]),
            seal_statement(seal["owner"], subject, seal["document_kind"], seal["sha256"]))
    except (InvalidSignature, ValueError):
        return False
    return True
