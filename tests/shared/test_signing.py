"""Envelope signatures (shared/signing.py): per-service keys, a trust list per service,
rotation that keeps old kids trusted, and envelopes from before signing still verifying."""

from __future__ import annotations

import base64
import hashlib
import stat
from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid4

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.contracts import GENESIS_HASH, Envelope
from shared.signing import (
    BusSigner,
    TrustList,
    ensure_bus_keys,
    signing_key_path,
    statement,
)

pytestmark = pytest.mark.fast


def envelope(signer: BusSigner | None, source: str = "intake") -> Envelope:
    return Envelope.sealed(
        GENESIS_HASH, signer=signer, event_id=uuid4(), type="application_submitted",
        version=1, source=source, region="469028", aggregate_id=uuid4(), aggregate_version=1,
        position=1, occurred_at=datetime(2025, 3, 3, tzinfo=UTC), actor=None, data={"a": 1})


def test_keys_are_private_and_each_service_is_trusted_only_for_itself(tmp_path: Path) -> None:
    trust_file = ensure_bus_keys(tmp_path, ["intake", "review"])
    for path in (trust_file, signing_key_path(tmp_path, "intake")):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    trust = TrustList.from_file(trust_file)
    intake = BusSigner.from_file("intake", signing_key_path(tmp_path, "intake"))
    review = BusSigner.from_file("review", signing_key_path(tmp_path, "review"))
    env = envelope(intake)
    assert trust.verify("intake", env.kid, env.sig, env.hash) is None
    assert trust.verify("review", env.kid, env.sig, env.hash) == "wrong_signer"
    other = envelope(review, source="intake")
    assert trust.verify("intake", other.kid, other.sig, other.hash) == "wrong_signer"
    assert trust.verify("intake", env.kid, env.sig, "0" * 64) == "bad_signature"
    assert trust.verify("intake", None, None, env.hash) == "unsigned"
    stranger = envelope(BusSigner.generate("intake"))
    assert trust.verify("intake", stranger.kid, stranger.sig, stranger.hash) == "unknown_key"


def test_signatures_stay_outside_the_hash_and_are_deterministic(tmp_path: Path) -> None:
    ensure_bus_keys(tmp_path, ["intake"])
    signer = BusSigner.from_file("intake", signing_key_path(tmp_path, "intake"))
    signed = envelope(signer)
    unsigned = Envelope.model_validate({**signed.model_dump(), "kid": None, "sig": None})
    assert unsigned.hash_is_valid() and signed.hash_is_valid()  # stored copies still verify
    assert signer.sign(signed.hash) == signed.sig  # Ed25519: a republish is byte-identical
    assert signed.msg_id == f"intake:1:{signed.hash[:16]}"


def test_rotation_keeps_the_old_kid_trusted(tmp_path: Path) -> None:
    ensure_bus_keys(tmp_path, ["intake"])
    key = signing_key_path(tmp_path, "intake")
    old = envelope(BusSigner.from_file("intake", key))
    key.unlink()  # the local stack's rotation: a new key file, the trust list re-made
    trust = TrustList.from_file(ensure_bus_keys(tmp_path, ["intake"]))
    new = envelope(BusSigner.from_file("intake", key))
    assert old.kid != new.kid
    assert trust.verify("intake", old.kid, old.sig, old.hash) is None
    assert trust.verify("intake", new.kid, new.sig, new.hash) is None


def test_a_stream_history_from_before_signing_is_accepted_up_to_its_last_position(
        tmp_path: Path) -> None:
    trust_file = ensure_bus_keys(tmp_path, ["intake"])
    trust = TrustList.from_file(trust_file, {"intake": 1})
    legacy = envelope(None)  # position 1, published before signing
    assert trust.verify("intake", None, None, legacy.hash, legacy.position) is None
    assert trust.verify("intake", None, None, legacy.hash, 2) == "unsigned"
    assert trust.verify("review", None, None, legacy.hash, 1) == "unsigned"


# The trust list verifies with libsodium (PyNaCl, which releases the GIL); the oracle here
# is `cryptography`'s Ed25519, which it replaced: the same verdict for every copy.
_SIGNER = BusSigner.generate("review")
_TRUST = TrustList({"review": {_SIGNER.kid: _SIGNER.public_b64}})
_ORACLE = Ed25519PublicKey.from_public_bytes(base64.b64decode(_SIGNER.public_b64))
_L = 2**252 + 27742317777372353535851937790883648493  # the group order


def _oracle_accepts(sig: bytes, envelope_hash: str) -> bool:
    try:
        _ORACLE.verify(sig, statement("review", _SIGNER.kid, envelope_hash))
    except InvalidSignature:
        return False
    return True


@settings(max_examples=300, deadline=None)
@given(digest=st.binary(min_size=32, max_size=32), flip=st.integers(0, 64 * 8),
       other=st.booleans(), malleate=st.booleans(), junk=st.binary(max_size=70))
def test_verdicts_match_the_cryptography_oracle(digest: bytes, flip: int, other: bool,
                                                malleate: bool, junk: bytes) -> None:
    h = digest.hex()
    sig = bytearray(base64.b64decode(_SIGNER.sign(h)))
    if flip < 64 * 8:  # one bit of the signature changed (or none)
        sig[flip // 8] ^= 1 << (flip % 8)
    if malleate:  # S + L: the same point, a non-canonical scalar
        s = int.from_bytes(sig[32:], "little") + _L
        if s < 2**256:
            sig[32:] = s.to_bytes(32, "little")
    checked = h if not other else hashlib.sha256(digest).hexdigest()
    for candidate in (bytes(sig), junk):
        want = _oracle_accepts(candidate, checked) if len(candidate) == 64 else False
        got = _TRUST.verify("review", _SIGNER.kid, base64.b64encode(candidate).decode(), checked)
        assert (got is None) == want, (got, want)
        if not want:
            assert got == ("bad_signature" if candidate else "unsigned")
    # The untouched signature over the signed hash always passes: the oracle is not vacuous.
    assert _TRUST.verify("review", _SIGNER.kid, _SIGNER.sign(h), h) is None
