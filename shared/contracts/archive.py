"""Archive's published integration events: the household file (一户一档) and the chain alarm.

Documents travel as their SHA-256 only, never their bytes or file names (a file name often
carries a person's name). Consumers: archive itself (its own stream joins the consolidated
timeline), county supervision (issue 11). Supervision's own events (the monthly filing and
the alerts) are at the end.

Convention for every service (the audit console's "who viewed or exported sensitive data"):
an integration event that records access to sensitive personal data either has a type
ending in `_unmasked`, `_exported` or `_viewed`, or carries `"sensitive_access": true` in its
data. Such events should also carry `reason` (why the person looked) and may carry `fields`
(which fields were revealed) and `case_ids` (when one export covers many cases).
"""

from __future__ import annotations

from datetime import date
from typing import Any, Literal
from uuid import UUID

from shared.contracts.common import AssistanceKind
from shared.contracts.disbursement import Seal
from shared.contracts.envelope import AlarmReason
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
    reason: AlarmReason  # every kind archive can raise, or its relay could not publish it
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


# --- county supervision (issue 11): the monthly filing (报备) and supervisors' alerts --------


@contract
class MonthlyFilingCompiled(IntegrationEvent):
    """A township's review and confirmation activity of a month, compiled from the timeline
    (again, with a higher `compiled_version`, until the township leader submits it)."""

    SOURCE = "archive"
    TYPE = "monthly_filing_compiled"
    filing_id: UUID
    township: str
    month: str  # "YYYY-MM"
    due_on: date
    compiled_version: int  # the leader submits naming the version reviewed
    totals: dict[str, int]  # per line (applications_received, confirmations…)
    envelopes: int  # how many stored events the compilation rested on
    basis_sha256: str  # sha256 over their (source, position, hash)


@contract
class MonthlyFilingSubmitted(IntegrationEvent):
    """报备: the township leader submitted the filing under the township's seal (the same
    seal, statement and key as the statistics table)."""

    SOURCE = "archive"
    TYPE = "monthly_filing_submitted"
    filing_id: UUID
    township: str
    month: str
    due_on: date
    submitted_on: date
    late: bool
    reviewed_version: int
    totals: dict[str, int]
    seal: Seal  # document_kind "monthly_filing_xlsx", over the XLSX's sha256
    note: str | None = None


@contract
class MonthlyFilingReceived(IntegrationEvent):
    SOURCE = "archive"
    TYPE = "monthly_filing_received"
    filing_id: UUID
    township: str
    month: str
    received_on: date


@contract
class MonthlyFilingQueried(IntegrationEvent):
    """The county bureau asked the township about its filing."""

    SOURCE = "archive"
    TYPE = "monthly_filing_queried"
    filing_id: UUID
    township: str
    month: str
    query_id: UUID
    question: str


@contract
class MonthlyFilingQueryAnswered(IntegrationEvent):
    SOURCE = "archive"
    TYPE = "monthly_filing_query_answered"
    filing_id: UUID
    township: str
    month: str
    query_id: UUID
    answer: str


SupervisionAlertKind = Literal[
    "deadline_missed", "filing_overdue", "approval_rate_outlier", "average_amount_outlier",
    "close_relative_without_county_visit", "investigator_voted"]


@contract
class SupervisionAlertRaised(IntegrationEvent):
    """监管预警 for the county's supervisors; raised once per subject."""

    SOURCE = "archive"
    TYPE = "supervision_alert_raised"
    alert_id: UUID
    alert_kind: SupervisionAlertKind
    township: str | None = None
    month: str | None = None
    case_id: str | None = None
    detail: dict[str, Any] = {}


@contract
class SupervisionAlertAcknowledged(IntegrationEvent):
    SOURCE = "archive"
    TYPE = "supervision_alert_acknowledged"
    alert_id: UUID
    alert_kind: SupervisionAlertKind
    township: str | None = None
    reason: str
