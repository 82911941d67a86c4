"""Integration-event contracts: envelope, subjects, hash chain, and per-service schemas.

Consumers import schemas from here, never another service's package.
"""

from shared.contracts.envelope import (
    GENESIS_HASH,
    Actor,
    BrokenLink,
    ChainVerification,
    Envelope,
    StoredActor,
    event_id_for,
    subject_for,
    verify_chain,
)
from shared.contracts.registry import IntegrationEvent, contract, parse_data, registered

__all__ = [
    "GENESIS_HASH", "Actor", "BrokenLink", "ChainVerification", "Envelope", "IntegrationEvent",
    "StoredActor", "contract", "event_id_for", "parse_data", "registered", "subject_for",
    "verify_chain",
]
