"""The example finance bureau (deploy/finance_consumer.py) checks the county seal of a fund
plan against the county's trust list, through the published contract's Seal: never with the
key the seal itself carries."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from shared.contracts.disbursement import Seal as SealContract
from shared.seals import SealKeys, key_id_of, seal_statement, verify_seal

pytestmark = pytest.mark.fast

COUNTY = "469028"


@pytest.mark.parametrize("algorithm", ["sm2", "ed25519"])
def test_the_finance_bureau_verifies_a_kernel_seal_through_the_contract(
        tmp_path: Path, algorithm: str) -> None:
    keys = SealKeys(tmp_path, create_missing=True, algorithm=algorithm, county=COUNTY)
    seal = keys.seal(COUNTY, "2026-06", "fund_plan_json", b"plan")
    wire = SealContract.model_validate(seal.to_wire()).model_dump()  # as the bus carries it
    verdict = verify_seal(wire, keys.trust_list(), subject="2026-06", owner=COUNTY)
    assert verdict.valid, verdict.reason
    assert not verify_seal(wire, keys.trust_list(), subject="2026-07", owner=COUNTY).valid


def test_a_seal_carrying_its_own_key_is_not_believed(tmp_path: Path) -> None:
    keys = SealKeys(tmp_path, create_missing=True, algorithm="ed25519", county=COUNTY)
    keys.seal(COUNTY, "2026-06", "fund_plan_json", b"plan")  # the county's real key, listed
    forger = Ed25519PrivateKey.generate()
    raw = forger.public_key().public_bytes(serialization.Encoding.Raw,
                                           serialization.PublicFormat.Raw)
    sha = "ab" * 32
    forged = {"owner": COUNTY, "document_kind": "fund_plan_json", "sha256": sha,
              "signature": base64.b64encode(forger.sign(seal_statement(
                  COUNTY, "2026-06", "fund_plan_json", sha))).decode(),
              "key_id": key_id_of(raw), "public_key": base64.b64encode(raw).decode(),
              "algorithm": "ed25519"}
    verdict = verify_seal(forged, keys.trust_list(), subject="2026-06", owner=COUNTY)
    assert (verdict.valid, verdict.code) == (False, "unknown_key")
    # Naming the county's real key id with the forger's signature does not help either.
    real = keys.trust_list().current(COUNTY, "ed25519")
    assert real is not None
    verdict = verify_seal({**forged, "key_id": real.key_id}, keys.trust_list(),
                          subject="2026-06", owner=COUNTY)
    assert (verdict.valid, verdict.code) == (False, "bad_signature")
