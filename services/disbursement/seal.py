"""Disbursement's sealed documents (the statistics table, 统计表, and the county's fund
plan, 资金发放计划): the kernel's electronic seal (shared.seals) plus what the county
downloads with it, the file name and the media type. The sealing owner is the township (or
the county) the document is stored under, so it is not repeated in the document."""

from __future__ import annotations

from datetime import datetime

from services.disbursement.domain import SealedDocument
from shared.seals import SealKeys, Verdict, sha256_hex

__all__ = ["SealKeys", "seal_document", "seal_verdict", "sha256_hex"]


def seal_document(keys: SealKeys, owner: str, subject: str, document_kind: str, name: str,
                  media_type: str, content: bytes) -> SealedDocument:
    seal = keys.seal(owner, subject, document_kind, content)
    return SealedDocument(document_kind=document_kind, name=name, media_type=media_type,
                          sha256=seal.sha256, signature=seal.signature, key_id=seal.key_id,
                          public_key=seal.public_key, algorithm=seal.algorithm)


def seal_verdict(keys: SealKeys, owner: str, subject: str, doc: SealedDocument,
                 sealed_at: datetime | None, content: bytes | None = None) -> Verdict:
    """Does the recorded seal, checked against the county's trust list, seal this hash for
    this owner and subject? (`sealed_at`: when it was recorded, for an Ed25519 seal.)"""
    return keys.verify({"owner": owner, "document_kind": doc.document_kind,
                        "sha256": doc.sha256, "signature": doc.signature,
                        "key_id": doc.key_id, "public_key": doc.public_key,
                        "algorithm": doc.algorithm},
                       subject=subject, owner=owner, sealed_at=sealed_at, content=content)
