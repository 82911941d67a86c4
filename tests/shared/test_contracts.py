"""Tests for the integration-event envelope's per-aggregate hash chain."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any
from uuid import UUID, uuid4

import pytest

from shared.contracts import (
    GENESIS_HASH,
    Actor,
    BrokenLink,
    Envelope,
    event_id_for,
    verify_chain,
)

pytestmark = pytest.mark.fast

CST = timezone(timedelta(hours=8))
A, B = UUID("11111111-1111-4111-8111-111111111111"), UUID("22222222-2222-4222-8222-222222222222")
ACTOR = Actor(user_id="clerk-yelin-1", role="township_clerk", township="469028100")


def fields(aggregate_id: UUID, version: int, position: int, **data: Any) -> dict[str, Any]:
    return {
        "event_id": event_id_for("intake", aggregate_id, version),
        "type": "application_submitted" if version == 1 else "application_accepted",
        "version": 1, "source": "intake", "region": "469028",
        "aggregate_id": aggregate_id, "aggregate_version": version, "position": position,
        "occurred_at": datetime(2025, 3, 3, 9, 30, position, 123456, tzinfo=CST),
        "actor": ACTOR, "township": "469028100",
        "data": {"applicant_name": "黎阿婆", "household_size": 2, "step": version,
                 "ratio": 0.1, "tags": ["低保", None], **data},
    }


def build_chain() -> list[Envelope]:
    """A has versions 1-3 at positions 1, 3, 5; B has versions 1-2 at positions 2, 4."""
    layout = [(A, 1, 1), (B, 1, 2), (A, 2, 3), (B, 2, 4), (A, 3, 5)]
    heads: dict[UUID, str] = {}
    out = []
    for aggregate_id, version, position in layout:
        env = Envelope.sealed(heads.get(aggregate_id, GENESIS_HASH),
                              **fields(aggregate_id, version, position))
        heads[aggregate_id] = env.hash
        out.append(env)
    return out


@pytest.fixture
def chain() -> list[Envelope]:
    return build_chain()


def test_sealed_links_each_envelope_to_its_own_aggregates_previous(
        chain: list[Envelope]) -> None:
    a1, b1, a2, b2, a3 = chain
    assert a1.prev_hash == GENESIS_HASH and b1.prev_hash == GENESIS_HASH
    assert a2.prev_hash == a1.hash and a3.prev_hash == a2.hash
    assert b2.prev_hash == b1.hash
    assert all(e.hash_is_valid() for e in chain)
    assert len({e.hash for e in chain}) == 5


def test_an_interleaved_chain_of_two_aggregates_verifies(chain: list[Envelope]) -> None:
    result = verify_chain(chain)
    assert result.ok and result.first_broken is None
    assert result.checked == 5


def test_verification_does_not_depend_on_arrival_order(chain: list[Envelope]) -> None:
    assert verify_chain(list(reversed(chain))).ok


def test_sealing_is_deterministic() -> None:
    assert [e.hash for e in build_chain()] == [e.hash for e in build_chain()]


def test_the_json_round_trip_keeps_hashes_valid(chain: list[Envelope]) -> None:
    copies = [Envelope.model_validate_json(e.to_bytes()) for e in chain]
    assert all(c.hash_is_valid() for c in copies)
    assert [c.hash for c in copies] == [e.hash for e in chain]
    assert verify_chain(copies).ok
    # A second trip is byte-identical: the canonical form is a fixed point.
    assert [Envelope.model_validate_json(c.to_bytes()).to_bytes() for c in copies] == [
        c.to_bytes() for c in copies]


def test_tampered_data_is_a_hash_mismatch_at_that_link(chain: list[Envelope]) -> None:
    a2 = chain[2]
    chain[2] = a2.model_copy(update={"data": {**a2.data, "household_size": 7}})
    result = verify_chain(chain)
    assert result.first_broken == BrokenLink(A, 2, 3, "hash_mismatch")
    assert result.checked == 3 and not result.ok


def test_data_tampered_in_the_json_is_a_hash_mismatch(chain: list[Envelope]) -> None:
    raw = json.loads(chain[2].to_bytes())
    raw["data"]["applicant_name"] = "冒名顶替"
    chain[2] = Envelope.model_validate(raw)
    result = verify_chain(chain)
    assert result.first_broken == BrokenLink(A, 2, 3, "hash_mismatch")


def test_a_tampered_actor_is_a_hash_mismatch(chain: list[Envelope]) -> None:
    raw = json.loads(chain[3].to_bytes())
    raw["actor"]["role"] = "county_bureau"
    chain[3] = Envelope.model_validate(raw)
    assert verify_chain(chain).first_broken == BrokenLink(B, 2, 4, "hash_mismatch")


def test_a_resealed_link_breaks_the_next_links_prev_hash(chain: list[Envelope]) -> None:
    a1, a2 = chain[0], chain[2]
    forged = Envelope.sealed(a1.hash, **fields(A, 2, 3, household_size=7))
    assert forged.hash_is_valid() and forged.hash != a2.hash
    chain[2] = forged
    result = verify_chain(chain)
    # B's link at position 4 is untouched; A's next link (position 5) names the break.
    assert result.first_broken == BrokenLink(A, 3, 5, "prev_hash_mismatch")
    assert result.checked == 5


def test_a_dropped_link_is_a_prev_hash_mismatch(chain: list[Envelope]) -> None:
    del chain[2]
    assert verify_chain(chain).first_broken == BrokenLink(A, 3, 5, "prev_hash_mismatch")


def test_a_chain_that_does_not_start_at_genesis_is_broken(chain: list[Envelope]) -> None:
    assert verify_chain(chain[2:]).first_broken == BrokenLink(A, 2, 3, "prev_hash_mismatch")


def test_a_range_verifies_from_known_heads(chain: list[Envelope]) -> None:
    a1, b1, *rest = chain
    result = verify_chain(rest, known_heads={A: a1.hash, B: b1.hash})
    assert result.ok and result.checked == 3


def test_a_range_with_a_wrong_known_head_is_broken(chain: list[Envelope]) -> None:
    a1, _, *rest = chain
    result = verify_chain(rest, known_heads={A: a1.hash, B: "f" * 64})
    assert result.first_broken == BrokenLink(B, 2, 4, "prev_hash_mismatch")


def test_known_heads_are_not_mutated(chain: list[Envelope]) -> None:
    heads = {A: chain[0].hash, B: chain[1].hash}
    before = dict(heads)
    verify_chain(chain[2:], known_heads=heads)
    assert heads == before


def test_event_id_for_is_deterministic() -> None:
    aggregate_id = uuid4()
    first = event_id_for("intake", aggregate_id, 1)
    assert first == event_id_for("intake", aggregate_id, 1)
    assert first.version == 5
    assert len({first, event_id_for("intake", aggregate_id, 2),
                event_id_for("review", aggregate_id, 1),
                event_id_for("intake", uuid4(), 1)}) == 4
