"""Electronic seals (电子印章): one Ed25519 key per township (and one for the county bureau),
kept as PEM files under `<var_dir>/keys/seals/` (generated locally on first use, mode 0600).

Production replaces the directory with keys issued by the county's seal authority; the
public key travels in every seal event, so old documents stay verifiable after a rotation.
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

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from services.disbursement.domain import SealedDocument, seal_statement

_OWNER = re.compile(r"^[0-9]{6,12}$")  # a division code: county or township


def sha256_hex(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def _raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id_of(public_raw: bytes) -> str:
    return hashlib.sha256(public_raw).hexdigest()[:16]


class SealKeys:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._cache: dict[str, Ed25519PrivateKey] = {}
        self._lock = threading.Lock()

    def _key(self, owner: str) -> Ed25519PrivateKey:
        if not _OWNER.match(owner):
            raise ValueError(f"seal owner must be a division code, not {owner!r}")
        with self._lock:
            if owner in self._cache:
                return self._cache[owner]
            path = self.directory / f"{owner}.ed25519.pem"
            if not path.exists():
                self._create(path)
            key = serialization.load_pem_private_key(path.read_bytes(), None)
            assert isinstance(key, Ed25519PrivateKey)
            self._cache[owner] = key
            return key

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
            # Never overwrite: another process that won the race keeps its key.
            with contextlib.suppress(FileExistsError):
                os.link(tmp, path)
        finally:
            os.unlink(tmp)

    def key_id(self, owner: str) -> str:
        return key_id_of(_raw_public(self._key(owner).public_key()))

    def seal(self, owner: str, subject: str, document_kind: str, name: str, media_type: str,
             content: bytes) -> SealedDocument:
        key = self._key(owner)
        digest = sha256_hex(content)
        signature = key.sign(seal_statement(owner, subject, document_kind, digest))
        public = _raw_public(key.public_key())
        return SealedDocument(
            document_kind=document_kind, name=name, media_type=media_type, sha256=digest,
            signature=base64.b64encode(signature).decode(), key_id=key_id_of(public),
            public_key=base64.b64encode(public).decode())


def signature_valid(owner: str, subject: str, doc: SealedDocument) -> bool:
    """Does the recorded signature seal this hash for this owner and subject?"""
    try:
        public = Ed25519PublicKey.from_public_bytes(base64.b64decode(doc.public_key))
        public.verify(base64.b64decode(doc.signature),
                      seal_statement(owner, subject, doc.document_kind, doc.sha256))
    except (InvalidSignature, ValueError):
        return False
    return True
