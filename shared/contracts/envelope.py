"""The integration-event envelope, its subject, and the per-aggregate hash chain.

hash = sha256(prev_hash ‖ canonical JSON of the envelope without `hash`, `kid`, `sig`). The
canonical form is stable across a JSON round trip, so any copy of an envelope (JetStream,
archive) can be verified on its own. `sig` is the source service's Ed25519 signature over the
hash (shared/signing.py); it and its `kid` stay outside the hash, so envelopes stored before
signing still verify.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol
from uuid import UUID, uuid5

from pydantic import BaseModel, ConfigDict, SerializerFunctionWrapHandler, model_serializer

from shared.contracts.audit import AuditEntry

GENESIS_HASH = "0" * 64
EVENT_ID_NAMESPACE = UUID("6a1c5b3e-9d1f-4f7e-8a53-4c0e2d5b7a11")


class Actor(BaseModel):
    """Who did it: the audit is worthless without this. The typed value the domain takes
    (`Principal.as_actor()`); events store `stored()`, the plain form they always had."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    user_id: str
    role: str
    township: str | None = None
    village: str | None = None
    # Display name and a contractor's organisation: in domain events and the audit entry,
    # never in the envelope's own actor (ENVELOPE_ACTOR_FIELDS), whose bytes stay as they were.
    name: str | None = None
    org: str | None = None

    @model_serializer(mode="wrap")
    def _omit_absent_name(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        body: dict[str, Any] = handler(self)
        for key in ("name", "org"):
            if body.get(key, 0) is None:
                del body[key]
        return body

    def stored(self) -> dict[str, Any]:
        """The form domain events hold: name and org only when known, so events written
        before they existed keep their form."""
        return self.model_dump()

    @classmethod
    def of(cls, stored: Mapping[str, Any]) -> Actor:
        return cls.model_validate({k: stored.get(k) for k in cls.model_fields if k in stored})


ENVELOPE_ACTOR_FIELDS = ("user_id", "role", "township", "village")

# "Who did it" as a domain event holds it: Actor.stored(), plain data, so events written
# before the typed Actor load as they are. Commands take the Actor; only the methods that
# apply an event (and the constructors, which are the first event) take this form.
StoredActor = dict[str, Any]


def subject_for(region: str, source: str, type_: str) -> str:
    return f"sa.{region}.{source}.{type_}"


def event_id_for(source: str, aggregate_id: UUID, aggregate_version: int) -> UUID:
    # Deterministic, so a republished envelope is byte-identical to the first one.
    return uuid5(EVENT_ID_NAMESPACE, f"{source}:{aggregate_id}:{aggregate_version}")


# Why a consumer refused a copy; archive's chain alarm names the same reasons.
AlarmReason = Literal[
    "hash_mismatch", "prev_hash_mismatch", "conflicting_copy", "unsigned", "unknown_key",
    "wrong_signer", "bad_signature", "subject_mismatch"]

# Outside the hash: the signature is over the hash.
UNHASHED = frozenset({"hash", "kid", "sig"})


class Signer(Protocol):
    kid: str

    def sign(self, envelope_hash: str) -> str: ...


class Envelope(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    event_id: UUID
    type: str
    version: int
    source: str
    region: str
    aggregate_id: UUID
    aggregate_version: int
    position: int
    occurred_at: datetime
    actor: Actor | None
    case_id: str | None = None
    household_id: str | None = None
    township: str | None = None
    data: dict[str, Any]
    # Who, when, why, what changed (issue 16); inside the hash. Omitted when absent, so
    # envelopes published before it existed keep their bytes and verify as before.
    audit: AuditEntry | None = None
    prev_hash: str
    hash: str
    kid: str | None = None
    sig: str | None = None

    @model_serializer(mode="wrap")
    def _omit_absent_audit(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        body: dict[str, Any] = handler(self)
        if body.get("audit", 0) is None:
            del body["audit"]
        return body

    @property
    def subject(self) -> str:
        return subject_for(self.region, self.source, self.type)

    @property
    def msg_id(self) -> str:
        # With the hash: nobody can pre-empt the id of an envelope not yet published.
        return f"{self.source}:{self.position}:{self.hash[:16]}"

    def computed_hash(self) -> str:
        return chain_hash(self.prev_hash, self.model_dump(mode="json", exclude=UNHASHED))

    def hash_is_valid(self) -> bool:
        return self.computed_hash() == self.hash

    @classmethod
    def sealed(cls, prev_hash: str, *, signer: Signer | None = None, **fields: Any) -> Envelope:
        """Build an envelope, compute its hash from the previous link of its chain, and sign
        it with the source's key."""
        # Validated once; the hash and signature are plain strings added to that model
        # (the relay seals every event: each extra round trip cost as much as signing).
        draft = cls.model_validate({**fields, "prev_hash": prev_hash, "hash": ""})
        digest = chain_hash(prev_hash, draft.model_dump(mode="json", exclude=UNHASHED))
        signature = {"kid": signer.kid, "sig": signer.sign(digest)} if signer else {}
        return draft.model_copy(update={"hash": digest, **signature})

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode()


def canonical_json(body: dict[str, Any]) -> bytes:
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def chain_hash(prev_hash: str, body_without_hash: dict[str, Any]) -> str:
    return hashlib.sha256(prev_hash.encode() + canonical_json(body_without_hash)).hexdigest()


@dataclass(frozen=True)
class BrokenLink:
    aggregate_id: UUID
    aggregate_version: int
    position: int
    reason: str  # "hash_mismatch" | "prev_hash_mismatch"


@dataclass(frozen=True)
class ChainVerification:
    checked: int
    first_broken: BrokenLink | None

    @property
    def ok(self) -> bool:
        return self.first_broken is None


def verify_chain(
    envelopes: Iterable[Envelope], known_heads: dict[UUID, str] | None = None
) -> ChainVerification:
    """Verify every aggregate's chain; name the first broken link in position order.

    `known_heads` gives the last trusted hash per aggregate when verifying a range that
    starts mid-chain; otherwise each aggregate's first link must follow the genesis hash.
    """
    heads: dict[UUID, str] = dict(known_heads or {})
    checked = 0
    for env in sorted(envelopes, key=lambda e: e.position):
        checked += 1
        expected_prev = heads.get(env.aggregate_id, GENESIS_HASH)
        reason = None
        if not env.hash_is_valid():
            reason = "hash_mismatch"
        elif env.prev_hash != expected_prev:
            reason = "prev_hash_mismatch"
        if reason:
            return ChainVerification(
                checked, BrokenLink(env.aggregate_id, env.aggregate_version, env.position, reason)
            )
        heads[env.aggregate_id] = env.hash
    return ChainVerification(checked, None)
