"""The audit record: one vocabulary for every domain event of every service (issue 16).

Every envelope a relay publishes carries an `AuditEntry` (who, when, why, what changed, a
Chinese label). A domain event without an integration contract is published as an
`audit_record` envelope whose data is the event's own fields, sealed by one rule
(`shared.audit`), so the per-aggregate chain covers every event.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from shared.contracts.registry import ANY_SOURCE, IntegrationEvent, contract

AUDIT_RECORD = "audit_record"


class AuditWho(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    user_id: str
    name: str | None = None  # display name, when the token or event names one
    role: str
    township: str | None = None
    village: str | None = None
    organisation: str | None = None  # a contractor's organisation


class AuditChange(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    field: str
    old: Any = None
    new: Any = None


class AuditEntry(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    event: str  # the domain event class, "ReviewCase.DecisionDeadlineExtended"
    label: str  # 中文: "延长审核确认期限"
    aggregate: str
    who: AuditWho | None
    when: datetime  # offset-aware, Beijing time
    why: str | None = None  # the reason, note, finding or notice text, in one field
    changes: list[AuditChange] = Field(default_factory=list)


@contract
class AuditRecorded(IntegrationEvent):
    """A domain event no other service reacts to, published for the audit only."""

    SOURCE = ANY_SOURCE
    TYPE = AUDIT_RECORD
    event: str
    fields: dict[str, Any]


CHAIN_CHECKPOINT = "chain_checkpoint"


class CheckpointHead(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    aggregate_id: str
    hash: str
    position: int


@contract
class ChainCheckpointed(IntegrationEvent):
    """A service's commitment to its chain heads (shared/checkpoint.py): every head that
    moved since the previous checkpoint, up to `position`. Archive checks its copy holds
    each head, so a deleted tail or a deleted aggregate is named, not silently missing."""

    SOURCE = ANY_SOURCE
    TYPE = CHAIN_CHECKPOINT
    seq: int
    position: int  # the service's log position the checkpoint covers
    previous_position: int
    previous_hash: str | None  # the envelope hash of checkpoint seq-1: a chain of checkpoints
    aggregates: int  # every aggregate the service has published, in total
    heads: list[CheckpointHead]
