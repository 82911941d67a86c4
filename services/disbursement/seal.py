"""Disbursement's sealed documents (the statistics table, 统计表, and the county's fund
plan, 资金发放计划): the kernel's electronic seal (shared.seals) plus what the county
downloads with it, the file name and the media type. The sealing owner is the township (or
the county) the document is stored under, so it is not repeated in the document."""

from __future__ import annotations

from services.disbursement.domain import SealedDocument
from shared.seals import SealKeys, seal_valid, sha256_hex

__all__ = ["SealKeys", "seal_document", "sha256_hex", "signature_valid"]


def seal_document(keys: SealKeys, owner: str, subject: str, document_kind: str, name: str,
                  media_type: str, content: bytes) -> SealedDocument:
    seal = keys.seal(owner, subject, document_kind, content)
    return SealedDocument(document_kind=document_kind, name=name, media_type=media_type,
                          sha256=seal.sha256, signature=seal.signature, key_id=seal.key_id,
                          public_key=seal.public_key)


def signature_valid(owner: str, subject: str, doc: SealedDocument) -> bool:
    """Does the recorded signature seal this hash for this owner and subject?"""
    return seal_valid({"owner": owner, "document_kind": doc.document_kind,
                       "sha256": doc.sha256, "signature": doc.signature,
                       "public_key": doc.public_key}, subject)
