"""Content-addressed storage of scanned documents (SHA-256): a local directory by default,
S3-compatible object storage (boto3) by settings.

The address is the hash of the bytes, so storing the same scan twice is one object, a
stored object can be checked against its name at any time, and an upload stored before its
event commits is harmless (nothing names it, and the retry finds it in place).
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import tempfile
from pathlib import Path
from typing import Any, Protocol

from shared.extras import optional_import

_HEX64 = re.compile(r"[0-9a-f]{64}")


def sha256_of(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def object_key(sha256: str, prefix: str = "") -> str:
    """`<prefix>sha256/ab/cd/abcd…`: two fan-out levels keep directories and listings small."""
    if not _HEX64.fullmatch(sha256):
        raise ValueError("not a lowercase hex SHA-256")
    return f"{prefix}sha256/{sha256[:2]}/{sha256[2:4]}/{sha256}"


class DocumentStore(Protocol):
    def put(self, sha256: str, content: bytes, media_type: str) -> None: ...

    def get(self, sha256: str) -> bytes: ...


class LocalDocumentStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, sha256: str) -> Path:
        return self.root / object_key(sha256)

    def put(self, sha256: str, content: bytes, media_type: str) -> None:
        if sha256_of(content) != sha256:
            raise ValueError("content does not match its address")
        target = self.path(sha256)
        if target.exists():
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        # Write aside then rename: a reader never sees half a document.
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(content)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def get(self, sha256: str) -> bytes:
        content = self.path(sha256).read_bytes()
        if sha256_of(content) != sha256:  # bit rot or tampering on disk
            raise ValueError(f"stored document {sha256} does not match its hash")
        return content


class S3DocumentStore:
    """Any S3-compatible store (AWS, MinIO, Ceph RGW): credentials from boto3's own chain."""

    def __init__(self, client: Any, bucket: str, prefix: str = "") -> None:
        self.client, self.bucket, self.prefix = client, bucket, prefix

    @classmethod
    def connect(cls, bucket: str, prefix: str = "", endpoint_url: str | None = None,
                region: str | None = None) -> S3DocumentStore:
        boto3 = optional_import("boto3")  # the `s3` extra

        return cls(boto3.client("s3", endpoint_url=endpoint_url, region_name=region),
                   bucket, prefix)

    def put(self, sha256: str, content: bytes, media_type: str) -> None:
        if sha256_of(content) != sha256:
            raise ValueError("content does not match its address")
        # The store checks the SHA-256 itself and refuses a corrupted transfer.
        self.client.put_object(
            Bucket=self.bucket, Key=object_key(sha256, self.prefix), Body=content,
            ContentType=media_type,
            ChecksumSHA256=base64.b64encode(bytes.fromhex(sha256)).decode())

    def get(self, sha256: str) -> bytes:
        obj = self.client.get_object(Bucket=self.bucket, Key=object_key(sha256, self.prefix))
        content: bytes = obj["Body"].read()
        if sha256_of(content) != sha256:
            raise ValueError(f"stored document {sha256} does not match its hash")
        return content
