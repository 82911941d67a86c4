"""Archive's published integration events: the household file (一户一档) and the chain alarm.

Documents travel as their SHA-256 only, never their bytes or file names (a file name often
carries a person's name). Consumers: archive itself (its own stream joins the consolidated
timeline), county supervision (issue 11).

Convention for every service (the audit console's "who viewed or exported sensitive data"):
an integration event that records access to sensitive personal data either has a type
ending in `_unmasked`, `_exported` or `_viewed`, or carries `"sensitive_access": true` in its
data. Such events should also carry `reason` (why the person looked) and may carry `fields`
(which fields were revealed) and `case_ids` (when one export covers many cases).
"""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from shared.contracts.common import AssistanceKind
from shared.contracts.registry import IntegrationEvent, contract

SENSITIVE_ACCESS_SUFFIXES = ("_unmasked", "_exported", "_viewed")
SENSITIVE_ACCESS_FLAG = "sensitive_access"


def is_sensitive_access(type_: str, data: dict[str, object]) -> bool:
    """The convention above, in one place so producers and the archive agree."""
    return type_.endswith(SENSITIVE_ACCESS_SUFFIXES) or data.get(SENSITIVE_ACCESS_FLAG) is True


@contract
class DocumentFiled(IntegrationEvent):
    """A scanned document (扫描件) entered the household file; the bytes stay in archive."""

    SOURCE = "archive"
    TYPE = "document_filed"
    household_id: str
    case_id: str
    township: str
    kind: AssistanceKind | None = None
    document_kind: str
    sha256: str
    size: int
    media_type: str


@contract
class DocumentViewed(IntegrationEvent):
    """A person opened a scanned document: sensitive access by the convention above."""

    SOURCE = "archive"
    TYPE = "document_viewed"
    household_id: str
    case_id: str
    township: str
    document_kind: str
    sha256: str
    reason: str


@contract
class FileCompleted(IntegrationEvent):
    """A case's scanned file holds every required document up to the stage it reached."""

    SOURCE = "archive"
    TYPE = "file_completed"
    household_id: str
    case_id: str
    township: str
    kind: AssistanceKind | None = None
    stage: str


@contract
class CustodyChanged(IntegrationEvent):
    """A paper copy (一式两份: county bureau and township) was filed, lent out or returned."""

    SOURCE = "archive"
    TYPE = "custody_changed"
    household_id: str
    township: str
    paper_copy: Literal["county", "township"]
    action: Literal["items_filed", "checked_out", "returned"]
    location: str | None = None
    case_id: str | None = None
    document_kinds: list[str] = []
    borrower: str | None = None
    reason: str | None = None


@contract
class ChainAlarm(IntegrationEvent):
    """A stored copy did not link into its aggregate's hash chain on arrival."""

    SOURCE = "archive"
    TYPE = "chain_alarm"
    alarm_id: UUID
    upstream: str
    upstream_aggregate_id: UUID
    upstream_aggregate_version: int
    upstream_position: int
    upstream_event_id: UUID
    upstream_type: str
    reason: Literal["hash_mismatch", "prev_hash_mismatch"]
    expected_prev_hash: str
    found_prev_hash: str
    township: str | None = None


@contract
class ChainAlarmResolved(IntegrationEvent):
    """The missing link arrived late (redelivery order), or an inspector closed the alarm."""

    SOURCE = "archive"
    TYPE = "chain_alarm_resolved"
    alarm_id: UUID
    upstream: str
    upstream_position: int
    resolution: Literal["late_link_arrived", "acknowledged"]
    reason: str | None = None
    township: str | None = None
