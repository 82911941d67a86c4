"""Envelope signatures (shared/signing.py): per-service keys, a trust list per service,
rotation that keeps old kids trusted, and envelopes from before signing still verifying."""

from __future__ import annotations

import stat
from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid4

import pytest

from shared.contracts import GENESIS_HASH, Envelope
from shared.signing import BusSigner, TrustList, ensure_bus_keys, signing_key_path

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
