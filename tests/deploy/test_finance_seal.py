"""The example finance bureau (deploy/finance_consumer.py) restates the seal statement
instead of importing our code, as an outside party would: it must stay the statement
shared/seals.py signs, or every issued fund plan would fail its check."""

from __future__ import annotations

import base64
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from deploy.finance_consumer import seal_statement as finance_statement
from shared.seals import SealKeys, seal_statement


def test_the_finance_bureau_verifies_a_kernel_seal(tmp_path: Path) -> None:
    seal = SealKeys(tmp_path, create_missing=True).seal("469028", "2026-06", "fund_plan_json",
                                                        b"plan")
    statement = finance_statement(seal.owner, "2026-06", seal.document_kind, seal.sha256)
    assert statement == seal_statement(seal.owner, "2026-06", seal.document_kind, seal.sha256)
    public = Ed25519PublicKey.from_public_bytes(base64.b64decode(seal.public_key))
    # Raises InvalidSignature if the two statements ever drift apart.
    public.verify(base64.b64decode(seal.signature), statement)
