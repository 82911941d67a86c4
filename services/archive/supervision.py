"""County supervision (县级监管), archive's second domain module: the township's monthly
filing (报备), the county centre's statistics and dynamic analysis (统计和动态分析), and the
alerts supervisors act on.

Pure, like domain.py: the consolidated timeline arrives as `Record`s already read from the
store, the working-day calendar and every threshold arrive as values. Everything is a fold
over records, so any figure can be recomputed as of any past moment by passing only the
records that had occurred by then.
"""

from __future__ import annotations

import hashlib
import json
import math
import statistics as _stats
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from decimal import Decimal
from enum import StrEnum
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from services.archive.domain import StoredActor
from shared.clock import CHINA, RhythmSchedule, add_months, business_date, last_day, month_of
from shared.contracts.common import AssistanceKind
from shared.contracts.disbursement import RosterLocked, RosterReconciled, StatisticsFiled
from shared.contracts.envelope import Actor
from shared.contracts.intake import (
    ApplicationAccepted,
    ApplicationDeclined,
    ApplicationReturned,
    ApplicationSubmitted,
    ApplicationWithdrawn,
)
from shared.contracts.publicity import (
    NoticeClosed,
    NoticeOpened,
    ObjectionFiled,
    ObjectionResolved,
    ReportFiled,
    ReportFindingRecorded,
)
from shared.contracts.review import (
    CaseConfirmed,
    CaseOpened,
    CaseRejected,
    EntitlementChanged,
    EntitlementStarted,
    HomeVisitRecorded,
    InvestigationAssigned,
    JointReviewHeld,
    OpinionIssued,
    PolicyChanged,
    SpotCheckCompleted,
    TemporaryPaymentApproved,
    TerminationNoticeRequested,
)
from shared.errors import RuleViolation

KINDS = tuple(k.value for k in AssistanceKind)
UNSPECIFIED = "unspecified"  # e.g. a report (举报) names no kind of assistance
CENT = Decimal("0.01")
RATE = Decimal("0.0001")
COUNTY_VISITORS = frozenset({"county_centre", "county_bureau"})


# --- months and records ------------------------------------------------------------------


def parse_month(month: str) -> date:
    """The first day of a "YYYY-MM" month."""
    try:
        first = date.fromisoformat(f"{month}-01")
    except ValueError:
        raise RuleViolation("archive.month", f"{month!r} is not a month (YYYY-MM)",
                            field="month") from None
    return first


def months_from_to(first: str, last: str, limit: int) -> list[str]:
    if parse_month(last) < parse_month(first):
        raise RuleViolation("archive.month_range", "the last month is before the first",
                            field="to")
    out = [first]
    while out[-1] != last:
        out.append(add_months(out[-1], 1))
        if len(out) > limit:
            raise RuleViolation("archive.month_range",
                                f"at most {limit} months in one series", field="to")
    return out


@dataclass(frozen=True)
class Record:
    """One integration event of the consolidated timeline, as supervision reads it."""

    source: str
    type: str
    position: int
    at: datetime
    township: str | None
    case_id: str | None
    household_id: str | None
    actor_user: str | None
    actor_role: str | None
    data: Mapping[str, Any]
    hash: str = ""
    zone: tzinfo = CHINA  # the county's zone (a setting): what day `at` was there

    @property
    def local_date(self) -> date:
        return self.at.astimezone(self.zone).date()

    def day(self) -> date:
        """The business date the contract states (decided_on…), else the day it occurred."""
        key = BUSINESS_DATE.get(self.type)
        return business_date(self.data.get(key) if key else None, self.at, self.zone)


BUSINESS_DATE = {
    ApplicationSubmitted.TYPE: "filed_on", ApplicationAccepted.TYPE: "accepted_on",
    ApplicationReturned.TYPE: "returned_on", ApplicationDeclined.TYPE: "declined_on",
    ApplicationWithdrawn.TYPE: "withdrawn_on", CaseConfirmed.TYPE: "decided_on",
    CaseRejected.TYPE: "decided_on", NoticeClosed.TYPE: "closed_on", ReportFiled.TYPE: "filed_on",
    ReportFindingRecorded.TYPE: "concluded_on", StatisticsFiled.TYPE: "filed_on",
    EntitlementStarted.TYPE: "decided_on", EntitlementChanged.TYPE: "decided_on",
    TemporaryPaymentApproved.TYPE: "decided_on", TerminationNoticeRequested.TYPE: "decided_on",
    RosterLocked.TYPE: "locked_on", RosterReconciled.TYPE: "reconciled_on",
}

# The event types supervision reads; everything else in the timeline is left unread.
SUPERVISED_TYPES = frozenset({
    *BUSINESS_DATE, CaseOpened.TYPE, OpinionIssued.TYPE, EntitlementStarted.TYPE,
    EntitlementChanged.TYPE, TemporaryPaymentApproved.TYPE, SpotCheckCompleted.TYPE,
    NoticeOpened.TYPE, ObjectionFiled.TYPE, ObjectionResolved.TYPE, RosterLocked.TYPE,
    RosterReconciled.TYPE, InvestigationAssigned.TYPE, HomeVisitRecorded.TYPE,
    JointReviewHeld.TYPE, PolicyChanged.TYPE,
})


def timeline(records: Iterable[Record]) -> list[Record]:
    return sorted(records, key=lambda r: (r.at, r.source, r.position))


def basis_digest(records: Sequence[Record]) -> str:
    """What a compilation rested on: anyone holding the same stored copies gets this hash."""
    h = hashlib.sha256()
    for r in sorted(records, key=lambda r: (r.source, r.position)):
        h.update(f"{r.source}:{r.position}:{r.hash}\n".encode())
    return h.hexdigest()


def money(value: Any) -> Decimal:
    return Decimal(str(value or "0")).quantize(CENT)


def _reasons(d: Mapping[str, Any]) -> str | None:
    parts: list[str] = []
    for key in ("reasons", "reason", "finding"):
        v = d.get(key)
        if isinstance(v, list):
            parts.extend(str(x) for x in v)
        elif v:
            parts.append(str(v))
    return "; ".join(parts) or None


class CaseDirectory:
    """Which kind of assistance and which review case an id belongs to (review's case id,
    intake's application id, publicity's notice id all name cases)."""

    def __init__(self, records: Iterable[Record]) -> None:
        self.kind: dict[str, str] = {}
        self.case_of_application: dict[str, str] = {}
        self.case_of_notice: dict[str, str] = {}
        for r in records:
            d = r.data
            case = str(d["case_id"]) if d.get("case_id") else r.case_id
            if r.source == "review" and case and d.get("kind"):
                self.kind.setdefault(case, str(d["kind"]))
            if r.source == "review" and case and d.get("application_id"):
                self.case_of_application[str(d["application_id"])] = case
            if r.type == NoticeOpened.TYPE:
                self.case_of_notice[str(d["notice_id"])] = str(d["case_id"])

    def kind_of(self, case_id: str | None) -> str:
        return self.kind.get(case_id or "", UNSPECIFIED)


# --- the monthly filing's content (报备) ----------------------------------------------------


class Line(StrEnum):
    """One line of the monthly filing; the Chinese label is what the printed form says."""

    APPLICATIONS_RECEIVED = "applications_received"  # 申请
    APPLICATIONS_ACCEPTED = "applications_accepted"  # 受理
    APPLICATIONS_RETURNED = "applications_returned"  # 退回补正
    APPLICATIONS_DECLINED = "applications_declined"  # 不予受理
    APPLICATIONS_WITHDRAWN = "applications_withdrawn"  # 撤回
    OPINIONS_APPROVE = "opinions_approve"  # 初审意见: 拟同意
    OPINIONS_REJECT = "opinions_reject"  # 初审意见: 拟不同意
    CONFIRMATIONS = "confirmations"  # 确认
    REJECTIONS = "rejections"  # 不予确认 (with reasons)
    ADJUSTMENTS = "adjustments"  # 调整: increase, decrease, resumption
    PHASE_OUTS = "phase_outs"  # 渐退
    SUSPENSIONS = "suspensions"  # 暂停
    TERMINATIONS = "terminations"  # 注销
    ADVANCE_PAYMENTS = "advance_payments"  # 先行救助
    OBJECTIONS_FILED = "objections_filed"  # 异议
    OBJECTIONS_UPHELD = "objections_upheld"
    OBJECTIONS_DISMISSED = "objections_dismissed"
    REPORTS_FILED = "reports_filed"  # 举报 (the township's queue only)
    REPORTS_UPHELD = "reports_upheld"
    REPORTS_DISMISSED = "reports_dismissed"


LINE_LABELS = {
    Line.APPLICATIONS_RECEIVED: "收到申请", Line.APPLICATIONS_ACCEPTED: "受理",
    Line.APPLICATIONS_RETURNED: "退回补正", Line.APPLICATIONS_DECLINED: "不予受理",
    Line.APPLICATIONS_WITHDRAWN: "申请撤回", Line.OPINIONS_APPROVE: "初审意见(同意)",
    Line.OPINIONS_REJECT: "初审意见(不同意)", Line.CONFIRMATIONS: "确认",
    Line.REJECTIONS: "不予确认", Line.ADJUSTMENTS: "调整(增/减/恢复)",
    Line.PHASE_OUTS: "渐退", Line.SUSPENSIONS: "暂停", Line.TERMINATIONS: "注销",
    Line.ADVANCE_PAYMENTS: "先行救助", Line.OBJECTIONS_FILED: "收到异议",
    Line.OBJECTIONS_UPHELD: "异议成立", Line.OBJECTIONS_DISMISSED: "异议不成立",
    Line.REPORTS_FILED: "收到举报", Line.REPORTS_UPHELD: "举报属实",
    Line.REPORTS_DISMISSED: "举报不属实",
}
COLUMNS = (*KINDS, UNSPECIFIED)
_CHANGE_LINE = {"increase": Line.ADJUSTMENTS, "decrease": Line.ADJUSTMENTS,
                "resume": Line.ADJUSTMENTS, "phase_out": Line.PHASE_OUTS,
                "suspend": Line.SUSPENSIONS, "terminate": Line.TERMINATIONS}


def _activity_line(r: Record, cases: CaseDirectory) -> tuple[Line, str, Decimal | None] | None:
    """(line, kind, amount) of one record in the filing, or None if it is not activity."""
    d, t = r.data, r.type
    kind = str(d["kind"]) if d.get("kind") else cases.kind_of(
        str(d["case_id"]) if d.get("case_id") else r.case_id)
    simple = {ApplicationSubmitted.TYPE: Line.APPLICATIONS_RECEIVED,
              ApplicationAccepted.TYPE: Line.APPLICATIONS_ACCEPTED,
              ApplicationReturned.TYPE: Line.APPLICATIONS_RETURNED,
              ApplicationDeclined.TYPE: Line.APPLICATIONS_DECLINED,
              ApplicationWithdrawn.TYPE: Line.APPLICATIONS_WITHDRAWN,
              CaseRejected.TYPE: Line.REJECTIONS, ObjectionFiled.TYPE: Line.OBJECTIONS_FILED}
    if t in simple:
        return simple[t], kind, None
    if t == OpinionIssued.TYPE:
        line = Line.OPINIONS_APPROVE if d.get("approve") else Line.OPINIONS_REJECT
        return line, kind, money(d["monthly_amount"]) if d.get("monthly_amount") else None
    if t == CaseConfirmed.TYPE:
        return Line.CONFIRMATIONS, kind, (money(d["monthly_amount"])
                                          if d.get("monthly_amount") else None)
    if t == EntitlementChanged.TYPE:
        return _CHANGE_LINE[d["change"]], kind, money(d["monthly_amount"])
    if t == TemporaryPaymentApproved.TYPE and d.get("advance"):
        return Line.ADVANCE_PAYMENTS, AssistanceKind.LINSHI.value, money(d["amount"])
    if t == ObjectionResolved.TYPE:
        return (Line.OBJECTIONS_UPHELD if d.get("upheld") else Line.OBJECTIONS_DISMISSED,
                kind, None)
    if t == ReportFiled.TYPE and d.get("queue") == "township":
        return Line.REPORTS_FILED, UNSPECIFIED, None
    if t == ReportFindingRecorded.TYPE and d.get("queue") == "township":
        return (Line.REPORTS_UPHELD if d.get("upheld") else Line.REPORTS_DISMISSED,
                UNSPECIFIED, None)
    return None


def compile_activity(records: Iterable[Record], township: str, month: str) -> dict[str, Any]:
    """报备: the township's review and confirmation activity of one month, counted per kind
    of assistance, with one item per event (case ids, outcomes and reasons; never names)."""
    ordered = timeline(records)
    cases = CaseDirectory(ordered)
    counts: dict[str, dict[str, int]] = {ln.value: dict.fromkeys(COLUMNS, 0) for ln in Line}
    amounts: dict[str, Decimal] = {}
    items: list[dict[str, Any]] = []
    for r in ordered:
        if r.township != township:
            continue
        line = _activity_line(r, cases)
        if line is None or month_of(r.day()) != month:
            continue
        ln, kind, amount = line
        counts[ln.value][kind if kind in counts[ln.value] else UNSPECIFIED] += 1
        if amount is not None and ln in (Line.CONFIRMATIONS, Line.ADVANCE_PAYMENTS):
            amounts[ln.value] = amounts.get(ln.value, Decimal(0)) + amount
        d = r.data
        items.append({
            "on": r.day().isoformat(), "line": ln.value, "kind": kind,
            "case_id": str(d["case_id"]) if d.get("case_id") else r.case_id,
            "village": d.get("village"), "amount": None if amount is None else str(amount),
            "reasons": _reasons(d) if ln not in (Line.REPORTS_FILED,) else None,
            "by": r.actor_user, "source": r.source, "position": r.position})
    lines = {ln: {**per_kind, "total": sum(per_kind.values())} for ln, per_kind in counts.items()}
    return {"township": township, "month": month, "lines": lines,
            "amounts": {k: str(v) for k, v in sorted(amounts.items())}, "items": items}


def totals_of(activity: Mapping[str, Any]) -> dict[str, int]:
    return {ln: int(v["total"]) for ln, v in activity["lines"].items()}


class FilingStatus(StrEnum):
    COMPILED = "compiled"  # 已汇总, awaiting the township leader
    SUBMITTED = "submitted"  # 已报备 under the township's seal
    RECEIVED = "received"  # 县民政局已签收


def filing_id_for(township: str, month: str) -> UUID:
    return uuid5(NAMESPACE_URL, f"lingshui:monthly-filing:{township}:{month}")


def query_id_for(filing_id: UUID, number: int) -> UUID:
    return uuid5(NAMESPACE_URL, f"lingshui:filing-query:{filing_id}:{number}")


@dataclass(frozen=True)
class FilingBasis:
    """What a compilation counted: the township's archived envelopes, their digest, and
    the newest one's time (as text: the form events have always held)."""

    envelopes: int
    sha256: str
    compiled_through: str | None = None

    def to_stored(self) -> dict[str, Any]:
        return {"envelopes": self.envelopes, "sha256": self.sha256,
                "compiled_through": self.compiled_through}

    @classmethod
    def of(cls, stored: Mapping[str, Any]) -> FilingBasis:
        return cls(envelopes=int(stored["envelopes"]), sha256=str(stored["sha256"]),
                   compiled_through=stored.get("compiled_through"))


@dataclass(frozen=True)
class SealedDocument:
    """The filing's XLSX as submitted: its bytes' address in the document store and the
    township's seal over them (the seal's wire form, shared.seals)."""

    sha256: str
    media_type: str
    size: int
    seal: dict[str, Any]

    def to_stored(self) -> dict[str, Any]:
        return {"sha256": self.sha256, "media_type": self.media_type, "size": self.size,
                "seal": self.seal}

    @classmethod
    def of(cls, stored: Mapping[str, Any]) -> SealedDocument:
        return cls(sha256=stored["sha256"], media_type=stored["media_type"],
                   size=int(stored["size"]), seal=dict(stored["seal"]))


class MonthlyFiling(Aggregate):
    """报备: one township's activity of one month, compiled from the timeline, reviewed and
    submitted by the township leader under the township's seal, received (and queried) by
    the county bureau."""

    @staticmethod
    def create_id(township: str, month: str, **_: Any) -> UUID:
        return filing_id_for(township, month)

    @classmethod
    def compile(cls, township: str, month: str, due_on: date, due_provisional: bool,
                activity: dict[str, Any], basis: FilingBasis, actor: Actor
                ) -> MonthlyFiling:
        return cls(township=township, month=month, due_on=due_on,
                   due_provisional=due_provisional, activity=activity,
                   basis=basis.to_stored(), actor=actor.stored())

    @event("Compiled")
    def __init__(self, township: str, month: str, due_on: date, due_provisional: bool,
                 activity: dict[str, Any], basis: dict[str, Any], actor: StoredActor
                 ) -> None:
        self.township, self.month = township, month
        self.due_on, self.due_provisional = due_on, due_provisional
        self.activity, self.basis = activity, basis
        self.status = FilingStatus.COMPILED
        self.submission: dict[str, Any] | None = None
        self.received_on: date | None = None
        self.queries: dict[str, dict[str, Any]] = {}

    def recompile(self, activity: dict[str, Any], basis: FilingBasis, actor: Actor) -> None:
        """Compile again (late entries, corrections) as long as it is not submitted."""
        if self.status is not FilingStatus.COMPILED:
            raise RuleViolation("archive.filing_submitted",
                                "the filing is already submitted under seal; raise a query "
                                "instead", field="month")
        self._recompiled(activity=activity, basis=basis.to_stored(), actor=actor.stored())

    @event("Recompiled")
    def _recompiled(self, activity: dict[str, Any], basis: dict[str, Any],
                    actor: StoredActor) -> None:
        self.activity, self.basis = activity, basis

    @property
    def compiled_from(self) -> FilingBasis:
        return FilingBasis.of(self.basis)

    @property
    def sealed_document(self) -> SealedDocument | None:
        return None if self.submission is None else SealedDocument.of(
            self.submission["document"])

    def check_submittable(self, reviewed_version: int, submitted_on: date,
                          note: str | None) -> None:
        """Every rule of submission, so nothing is sealed or stored for a refused one."""
        if self.status is not FilingStatus.COMPILED:
            raise RuleViolation("archive.filing_submitted", "the filing is already submitted",
                                field="month")
        if reviewed_version != self.version:
            # The leader seals what they reviewed, not a later compilation.
            raise RuleViolation("archive.filing_changed",
                                f"the filing was compiled again (version {self.version}) "
                                f"after the version {reviewed_version} reviewed; review it "
                                "again", field="reviewed_version")
        if submitted_on > self.due_on and not (note or "").strip():
            raise RuleViolation("archive.late_reason_required",
                                f"the filing was due on {self.due_on.isoformat()}; say why it "
                                "is late", field="note")

    def submit(self, reviewed_version: int, document: SealedDocument, submitted_on: date,
               note: str | None, actor: Actor) -> None:
        self.check_submittable(reviewed_version, submitted_on, note)
        self._submitted(reviewed_version=reviewed_version, document=document.to_stored(),
                        submitted_on=submitted_on, late=submitted_on > self.due_on,
                        note=note, actor=actor.stored())

    @event("Submitted")
    def _submitted(self, reviewed_version: int, document: dict[str, Any], submitted_on: date,
                   late: bool, note: str | None, actor: StoredActor) -> None:
        self.status = FilingStatus.SUBMITTED
        self.submission = {"reviewed_version": reviewed_version, "document": document,
                           "submitted_on": submitted_on, "late": late, "note": note,
                           "by": actor.get("user_id")}

    def receive(self, received_on: date, actor: Actor) -> None:
        if self.status is not FilingStatus.SUBMITTED:
            raise RuleViolation("archive.filing_not_submitted" if self.status
                                is FilingStatus.COMPILED else "archive.filing_received",
                                f"the filing is {self.status.value}", field="month")
        self._received(received_on=received_on, actor=actor.stored())

    @event("Received")
    def _received(self, received_on: date, actor: StoredActor) -> None:
        self.status = FilingStatus.RECEIVED
        self.received_on = received_on

    def raise_query(self, question: str, actor: Actor) -> UUID:
        if self.status is FilingStatus.COMPILED:
            raise RuleViolation("archive.filing_not_submitted",
                                "a query is raised on a submitted filing", field="month")
        if not question.strip():
            raise RuleViolation("archive.reason_required", "write the question",
                                field="question")
        query_id = query_id_for(self.id, len(self.queries) + 1)
        self._queried(query_id=query_id, question=question, actor=actor.stored())
        return query_id

    @event("Queried")
    def _queried(self, query_id: UUID, question: str, actor: StoredActor) -> None:
        self.queries[str(query_id)] = {"question": question, "answer": None}

    def answer_query(self, query_id: UUID, answer: str, actor: Actor) -> None:
        q = self.queries.get(str(query_id))
        if q is None:
            raise RuleViolation("archive.no_such_query", "no such query on this filing",
                                field="query_id")
        if q["answer"] is not None:
            raise RuleViolation("archive.query_answered", "the query is already answered",
                                field="query_id")
        if not answer.strip():
            raise RuleViolation("archive.reason_required", "write the answer", field="answer")
        self._query_answered(query_id=query_id, answer=answer, actor=actor.stored())

    @event("QueryAnswered")
    def _query_answered(self, query_id: UUID, answer: str, actor: StoredActor) -> None:
        self.queries[str(query_id)]["answer"] = answer


# --- statistics and dynamic analysis ---------------------------------------------------------

# The figures of a statistics row, in the order the exports and charts show them.
FIGURES = (
    "households", "persons", "amount", "average_amount", "entries", "exits", "decided",
    "confirmed", "rejected", "approval_rate", "speed_avg_working_days",
    "speed_p90_working_days", "decided_late", "open_overdue", "notices_closed",
    "notices_with_objection", "objection_rate", "objections_resolved", "objections_upheld",
    "upheld_objection_rate", "spot_checked", "spot_errors", "spot_error_rate",
    "close_relative_opened", "close_relative_confirmed", "close_relative_rejected",
    "close_relative_pending")
FIGURE_LABELS = {
    "households": "户数", "persons": "人数", "amount": "金额(元)", "average_amount": "户均金额",
    "entries": "新增户数", "exits": "退出户数", "decided": "审结件数", "confirmed": "确认",
    "rejected": "不予确认", "approval_rate": "确认率",
    "speed_avg_working_days": "受理至决定平均工作日",
    "speed_p90_working_days": "受理至决定90分位工作日",
    "decided_late": "超期决定", "open_overdue": "在办超期", "notices_closed": "公示结束",
    "notices_with_objection": "有异议公示", "objection_rate": "异议率",
    "objections_resolved": "异议处理", "objections_upheld": "异议成立",
    "upheld_objection_rate": "异议成立率", "spot_checked": "抽查件数", "spot_errors": "抽查差错",
    "spot_error_rate": "抽查差错率", "close_relative_opened": "近亲属备案(新)",
    "close_relative_confirmed": "近亲属备案确认", "close_relative_rejected": "近亲属备案不予确认",
    "close_relative_pending": "近亲属备案在办",
}


@dataclass
class _Entitlement:
    township: str
    kind: str
    household: str
    steps: list[tuple[str, Decimal, int]] = field(default_factory=list)  # decision order

    def in_force(self, month: str) -> tuple[Decimal, int] | None:
        """The amount and household size for `month`: the latest decision that reaches it
        (a later decision overrides an earlier one, as the ledger pays)."""
        chosen = None
        for m, amount, size in self.steps:
            if m <= month:
                chosen = (amount, size)
        return chosen


@dataclass
class _Case:
    township: str
    kind: str
    household: str
    accepted_on: date | None = None
    decision_due: date | None = None
    decided_on: date | None = None
    decision: str | None = None
    closed_on: date | None = None  # withdrawn
    close_relative: bool = False
    household_size: int = 0
    valid_until: date | None = None


@dataclass
class Population:
    """Everything the figures count, folded once from the records."""

    entitlements: dict[str, _Entitlement] = field(default_factory=dict)
    cases: dict[str, _Case] = field(default_factory=dict)
    payments: list[tuple[str, str, str, Decimal, int]] = field(default_factory=list)
    notices: dict[str, dict[str, Any]] = field(default_factory=dict)
    resolutions: list[tuple[str, str, date, bool]] = field(default_factory=list)
    spot_results: list[tuple[str, str, str, bool]] = field(default_factory=list)

    @classmethod
    def fold(cls, records: Iterable[Record]) -> Population:
        ordered = timeline(records)
        directory = CaseDirectory(ordered)
        p = cls()
        for r in ordered:
            p._apply(r, directory)
        return p

    def _case(self, case_id: str, r: Record, directory: CaseDirectory) -> _Case:
        if case_id not in self.cases:
            d = r.data
            self.cases[case_id] = _Case(
                township=str(d.get("township") or r.township),
                kind=str(d.get("kind") or directory.kind_of(case_id)),
                household=str(d.get("household_id") or r.household_id or case_id))
        return self.cases[case_id]

    def _apply(self, r: Record, directory: CaseDirectory) -> None:
        d, t = r.data, r.type
        if r.source == "review" and t == CaseOpened.TYPE:
            c = self._case(str(d["case_id"]), r, directory)
            c.accepted_on = date.fromisoformat(d["accepted_on"])
            c.decision_due = date.fromisoformat(d["decision_due"])
            c.close_relative = bool(d.get("close_relative_declared"))
        elif r.source == "review" and t == OpinionIssued.TYPE:
            c = self._case(str(d["case_id"]), r, directory)
            c.household_size = int(d.get("household_size") or c.household_size)
            c.close_relative = c.close_relative or bool(d.get("close_relative_declared"))
            if d.get("household_id"):
                c.household = str(d["household_id"])
        elif r.source == "review" and t in (CaseConfirmed.TYPE, CaseRejected.TYPE):
            c = self._case(str(d["case_id"]), r, directory)
            c.decided_on = date.fromisoformat(d["decided_on"])
            c.decision = "confirmed" if t == CaseConfirmed.TYPE else "rejected"
            if d.get("valid_until"):
                c.valid_until = date.fromisoformat(d["valid_until"])
        elif t == ApplicationWithdrawn.TYPE:
            case = directory.case_of_application.get(str(d["application_id"]))
            if case in self.cases:
                self.cases[case].closed_on = r.day()
        elif r.source == "review" and t == EntitlementStarted.TYPE:
            self.entitlements[str(d["entitlement_id"])] = _Entitlement(
                township=str(d["township"]), kind=str(d["kind"]),
                household=str(d.get("household_id") or d["entitlement_id"]),
                steps=[(d["start_month"], money(d["monthly_amount"]),
                        int(d["household_size"]))])
        elif r.source == "review" and t == EntitlementChanged.TYPE:
            e = self.entitlements.get(str(d["entitlement_id"]))
            if e is None:
                return  # its start is not in the archive (yet): nothing to change
            e.steps.append((d["effective_month"], money(d["monthly_amount"]),
                            int(d["household_size"])))
            if d["change"] == "phase_out" and d.get("until_month"):
                # 渐退: paid through until_month, nothing after.
                e.steps.append((add_months(d["until_month"], 1), Decimal(0),
                                int(d["household_size"])))
        elif r.source == "review" and t == TemporaryPaymentApproved.TYPE:
            case = str(d["case_id"])
            self.payments.append((str(d["township"]), str(d.get("household_id") or case),
                                  str(d["month"]), money(d["amount"]),
                                  int(d["household_size"])))
        elif t == NoticeOpened.TYPE and d.get("subject") == "opinion":
            self.notices[str(d["notice_id"])] = {
                "township": str(d["township"]), "kind": directory.kind_of(str(d["case_id"])),
                "objections": 0, "closed_on": None}
        elif t == ObjectionFiled.TYPE and str(d["notice_id"]) in self.notices:
            self.notices[str(d["notice_id"])]["objections"] += 1
        elif t == NoticeClosed.TYPE and str(d["notice_id"]) in self.notices:
            self.notices[str(d["notice_id"])]["closed_on"] = r.day()
        elif t == ObjectionResolved.TYPE:
            self.resolutions.append((str(d["township"]), directory.kind_of(str(d["case_id"])),
                                     r.day(), bool(d["upheld"])))
        elif t == SpotCheckCompleted.TYPE:
            for res in d.get("results", []):
                self.spot_results.append((str(d["township"]), str(d["month"]),
                                          directory.kind_of(str(res["case_id"])),
                                          bool(res["upheld"])))


def _rate(part: int, whole: int) -> Decimal | None:
    return None if whole == 0 else (Decimal(part) / Decimal(whole)).quantize(RATE)


def percentile_nearest_rank(values: Sequence[int], p: int) -> int | None:
    """The p-th percentile by nearest rank: the smallest value with at least p% of the
    values at or below it (always a value that occurred; no interpolation)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(1, math.ceil(p * len(ordered) / 100)) - 1]


WorkingDays = Callable[[date, date], int]


class Figures:
    """The statistics series of one scope (a township or the county; a kind or all kinds)."""

    def __init__(self, population: Population, working_days: WorkingDays,
                 township: str | None = None, kind: str | None = None) -> None:
        self.p, self.working_days = population, working_days
        self.township, self.kind = township, kind

    def _in(self, township: str, kind: str) -> bool:
        return (self.township is None or township == self.township) and (
            self.kind is None or kind == self.kind)

    def caseload(self, month: str) -> dict[str, tuple[int, Decimal]]:
        """Household → (persons, amount) counted in `month`, every kind in scope."""
        out: dict[str, tuple[int, Decimal]] = {}
        for e in self.p.entitlements.values():
            if e.kind == AssistanceKind.DIBAO_EDGE.value or not self._in(e.township, e.kind):
                continue
            force = e.in_force(month)
            if force is not None and force[0] > 0:
                out[f"{e.kind}:{e.household}"] = (force[1], force[0])
        for township, household, paid_month, amount, size in self.p.payments:
            if paid_month == month and self._in(township, AssistanceKind.LINSHI.value):
                k = f"linshi:{household}"
                persons, total = out.get(k, (0, Decimal(0)))
                out[k] = (max(persons, size), total + amount)
        first, last = parse_month(month), last_day(month)
        for c in self.p.cases.values():
            # 低保边缘 is a recognition (no cash): counted while it is valid.
            if (c.kind == AssistanceKind.DIBAO_EDGE.value and c.decision == "confirmed"
                    and self._in(c.township, c.kind) and c.decided_on is not None
                    and c.decided_on <= last
                    and (c.valid_until is None or c.valid_until >= first)):
                out[f"dibao_edge:{c.household}"] = (c.household_size, Decimal(0))
        return out

    def month(self, month: str, as_of: date | None = None,
              previous: Mapping[str, Any] | None = None) -> dict[str, Any]:
        first, last = parse_month(month), last_day(month)
        ref = last if as_of is None else min(last, as_of)
        load = self.caseload(month)
        before = previous if previous is not None else self.caseload(add_months(month, -1))
        amount = sum((a for _, a in load.values()), Decimal(0)).quantize(CENT)
        f: dict[str, Any] = {
            "month": month, "households": len(load),
            "persons": sum(n for n, _ in load.values()), "amount": amount,
            "average_amount": (amount / len(load)).quantize(CENT) if load else None,
            "entries": len(load.keys() - before.keys()),
            "exits": len(before.keys() - load.keys())}
        decided = [c for c in self.p.cases.values() if self._in(c.township, c.kind)
                   and c.decided_on is not None and first <= c.decided_on <= last]
        speeds = [self.working_days(c.accepted_on, c.decided_on) for c in decided
                  if c.accepted_on is not None and c.decided_on is not None]
        confirmed = sum(c.decision == "confirmed" for c in decided)
        f |= {"decided": len(decided), "confirmed": confirmed,
              "rejected": len(decided) - confirmed,
              "approval_rate": _rate(confirmed, len(decided)),
              "speed_avg_working_days": (Decimal(sum(speeds)) / len(speeds)).quantize(
                  Decimal("0.1")) if speeds else None,
              "speed_p90_working_days": percentile_nearest_rank(speeds, 90),
              "decided_late": sum(1 for c in decided if c.decision_due is not None
                                  and c.decided_on is not None
                                  and c.decided_on > c.decision_due),
              "open_overdue": sum(
                  1 for c in self.p.cases.values() if self._in(c.township, c.kind)
                  and c.decision_due is not None and c.decision_due < ref
                  and c.accepted_on is not None and c.accepted_on <= ref
                  and (c.decided_on is None or c.decided_on > ref)
                  and (c.closed_on is None or c.closed_on > ref))}
        closed = [n for n in self.p.notices.values() if self._in(n["township"], n["kind"])
                  and n["closed_on"] is not None and first <= n["closed_on"] <= last]
        with_objection = sum(1 for n in closed if n["objections"])
        resolved = [u for t, k, on, u in self.p.resolutions
                    if self._in(t, k) and first <= on <= last]
        spot = [ok for t, m, k, ok in self.p.spot_results if m == month and self._in(t, k)]
        f |= {"notices_closed": len(closed), "notices_with_objection": with_objection,
              "objection_rate": _rate(with_objection, len(closed)),
              "objections_resolved": len(resolved), "objections_upheld": sum(resolved),
              "upheld_objection_rate": _rate(sum(resolved), len(resolved)),
              "spot_checked": len(spot), "spot_errors": spot.count(False),
              "spot_error_rate": _rate(spot.count(False), len(spot))}
        related = [c for c in self.p.cases.values()
                   if c.close_relative and self._in(c.township, c.kind)]
        f |= {"close_relative_opened": sum(1 for c in related if c.accepted_on is not None
                                           and first <= c.accepted_on <= last),
              "close_relative_confirmed": sum(1 for c in related if c.decision == "confirmed"
                                              and c.decided_on and first <= c.decided_on
                                              <= last),
              "close_relative_rejected": sum(1 for c in related if c.decision == "rejected"
                                             and c.decided_on and first <= c.decided_on
                                             <= last),
              "close_relative_pending": sum(
                  1 for c in related if c.accepted_on is not None and c.accepted_on <= ref
                  and (c.decided_on is None or c.decided_on > ref)
                  and (c.closed_on is None or c.closed_on > ref))}
        f["_caseload"] = load
        return f

    def series(self, months: Sequence[str], as_of: date | None = None) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        previous: Mapping[str, Any] | None = None
        for m in months:
            f = self.month(m, as_of, previous)
            previous = f.pop("_caseload")
            out.append(f)
        return out


def cube(population: Population, working_days: WorkingDays, months: Sequence[str],
         townships: Sequence[str], as_of: date | None = None) -> dict[str, Any]:
    """Every township × kind × month, and the county's totals per kind and month (pooled,
    so rates and averages are the county's own, not an average of averages)."""
    rows: list[dict[str, Any]] = []
    for t in townships:
        for k in KINDS:
            rows += [{"township": t, "kind": k, **f} for f in
                     Figures(population, working_days, t, k).series(months, as_of)]
    totals: list[dict[str, Any]] = []
    for k in (*KINDS, None):
        totals += [{"township": None, "kind": k, **f} for f in
                   Figures(population, working_days, None, k).series(months, as_of)]
    return {"rows": rows, "totals": totals}


# --- alerts ------------------------------------------------------------------------------


class AlertKind(StrEnum):
    DEADLINE_MISSED = "deadline_missed"  # the 15th (roster cut-off) or the 20th
    FILING_OVERDUE = "filing_overdue"  # the monthly filing (报备) not submitted by its day
    APPROVAL_RATE_OUTLIER = "approval_rate_outlier"
    AVERAGE_AMOUNT_OUTLIER = "average_amount_outlier"
    CLOSE_RELATIVE_WITHOUT_COUNTY_VISIT = "close_relative_without_county_visit"
    INVESTIGATOR_VOTED = "investigator_voted"  # investigated, then sat in the joint review


@dataclass(frozen=True)
class AlertFinding:
    kind: AlertKind
    subject: str  # what makes the alert one of its kind: raising it again finds it
    township: str | None
    month: str | None
    case_id: str | None
    detail: dict[str, Any]


def alert_id_for(kind: str, subject: str) -> UUID:
    return uuid5(NAMESPACE_URL, f"lingshui:supervision-alert:{kind}:{subject}")


@dataclass(frozen=True)
class AlertRules:
    """The county's thresholds (settings). The 15th and the 20th are review's policy, read
    from the record (`rhythms`)."""

    approval_rate_distance: Decimal = Decimal("0.25")  # absolute, from the county median
    average_amount_distance: Decimal = Decimal("0.5")  # relative, from the county median
    min_decisions: int = 5  # a township's rate counts only over this many decisions
    min_households: int = 5
    min_townships: int = 3  # a median of fewer is no benchmark


def deadline_findings(records: Iterable[Record], townships: Sequence[str],
                      months: Sequence[str], today: date, rules: AlertRules
                      ) -> list[AlertFinding]:
    """A township that missed the 15th (no roster locked by the cut-off) or the 20th (no
    reconciliation or no sealed statistics filed by then), for days already past, by the
    rhythm of review's policy table as the record holds it."""
    schedule = rhythms(records)
    locked: dict[tuple[str, str], date] = {}
    reconciled: dict[tuple[str, str], tuple[date, bool]] = {}
    filed: dict[tuple[str, str], tuple[date, bool]] = {}
    for r in records:
        if r.source != "disbursement" or not r.township:
            continue
        key = (r.township, str(r.data.get("month")))
        if r.type == RosterLocked.TYPE:
            locked[key] = min(locked.get(key, r.day()), r.day())
        elif r.type == RosterReconciled.TYPE:
            reconciled[key] = (r.day(), bool(r.data.get("late")))
        elif r.type == StatisticsFiled.TYPE:
            filed[key] = (r.day(), bool(r.data.get("late")))
    out = []
    for month in months:
        parse_month(month)
        rhythm = schedule.of_month(month)
        cutoff, file_by = rhythm.cutoff(month), rhythm.file_by(month)
        for t in townships:
            if today > cutoff and ((lk := locked.get((t, month))) is None or lk > cutoff):
                out.append(AlertFinding(
                    AlertKind.DEADLINE_MISSED, f"{t}:{month}:cutoff", t, month, None,
                    {"deadline": "roster_cutoff", "due_on": cutoff.isoformat(),
                     "done_on": lk.isoformat() if lk else None}))
            if today > file_by:
                rec, fil = reconciled.get((t, month)), filed.get((t, month))
                missed = [what for what, done in (("reconciliation", rec), ("statistics", fil))
                          if done is None or done[1] or done[0] > file_by]
                if missed:
                    out.append(AlertFinding(
                        AlertKind.DEADLINE_MISSED, f"{t}:{month}:file_by", t, month, None,
                        {"deadline": "reconcile_and_file", "due_on": file_by.isoformat(),
                         "missed": missed,
                         "reconciled_on": rec[0].isoformat() if rec else None,
                         "statistics_filed_on": fil[0].isoformat() if fil else None}))
    return out


def rhythms(records: Iterable[Record]) -> RhythmSchedule:
    """Review's monthly rhythm by month, from the policy versions it published."""
    return RhythmSchedule.from_policy(
        {"policy_version": r.data["version"], "effective_from": r.data["effective_from"],
         "terms": r.data["table"]}
        for r in records if r.source == "review" and r.type == PolicyChanged.TYPE)


def outlier_findings(rows: Iterable[Mapping[str, Any]], rules: AlertRules
                     ) -> list[AlertFinding]:
    """Per kind and month: a township's approval rate or average amount far from the median
    of the townships with enough cases to compare."""
    groups: dict[tuple[str, str], list[Mapping[str, Any]]] = defaultdict(list)
    for r in rows:
        groups[(r["kind"], r["month"])].append(r)
    out: list[AlertFinding] = []
    for (kind, month), group in sorted(groups.items()):
        rated = [r for r in group if r["decided"] >= rules.min_decisions]
        if len(rated) >= rules.min_townships:
            median = Decimal(str(_stats.median(r["approval_rate"] for r in rated)))
            for r in rated:
                if abs(r["approval_rate"] - median) > rules.approval_rate_distance:
                    out.append(AlertFinding(
                        AlertKind.APPROVAL_RATE_OUTLIER, f"{r['township']}:{kind}:{month}",
                        r["township"], month, None,
                        {"kind": kind, "approval_rate": str(r["approval_rate"]),
                         "county_median": str(median.quantize(RATE)),
                         "decided": r["decided"]}))
        paid = [r for r in group if r["households"] >= rules.min_households
                and r["average_amount"] is not None and r["average_amount"] > 0]
        if len(paid) >= rules.min_townships:
            median = Decimal(str(_stats.median(r["average_amount"] for r in paid)))
            for r in paid:
                if abs(r["average_amount"] - median) > rules.average_amount_distance * median:
                    out.append(AlertFinding(
                        AlertKind.AVERAGE_AMOUNT_OUTLIER, f"{r['township']}:{kind}:{month}",
                        r["township"], month, None,
                        {"kind": kind, "average_amount": str(r["average_amount"]),
                         "county_median": str(median.quantize(CENT)),
                         "households": r["households"]}))
    return out


def _people(value: Any) -> set[str]:
    """Investigators or members as the review contract lists them: names or objects."""
    out: set[str] = set()
    for v in value or []:
        if isinstance(v, Mapping):
            if v.get("user_id"):
                out.add(f"id:{v['user_id']}")
            if v.get("name"):
                out.add(f"name:{v['name']}")
        elif v:
            out.add(f"name:{v}")
    return out


def conflict_findings(records: Iterable[Record]) -> list[AlertFinding]:
    """A close-relative case (近亲属备案) confirmed with no home visit of the county's own on
    record before the decision; an official who investigated a case and then sat in its
    joint review (a sitting member, not recused)."""
    ordered = timeline(records)
    related: set[str] = set()
    county_visited: set[str] = set()
    investigators: dict[str, set[str]] = defaultdict(set)
    out: list[AlertFinding] = []
    for r in ordered:
        d = r.data
        case = str(d["case_id"]) if d.get("case_id") else r.case_id
        if case is None or r.source != "review":
            continue
        if d.get("close_relative_declared") is True:
            related.add(case)
        if r.type == HomeVisitRecorded.TYPE and (r.actor_role in COUNTY_VISITORS
                                                 or d.get("visiting_body") == "county"):
            county_visited.add(case)
        if r.type in (InvestigationAssigned.TYPE, HomeVisitRecorded.TYPE):
            investigators[case] |= _people(d.get("investigators"))
        if r.type == CaseConfirmed.TYPE and case in related and case not in county_visited:
            out.append(AlertFinding(
                AlertKind.CLOSE_RELATIVE_WITHOUT_COUNTY_VISIT, case, r.township,
                month_of(r.day()), case,
                {"decided_on": r.day().isoformat(), "decided_by": r.actor_user}))
        if r.type == JointReviewHeld.TYPE:
            for m in d.get("members", []):
                if not isinstance(m, Mapping) or not m.get("present", True) \
                        or m.get("recused", False):
                    continue
                if _people([m]) & investigators[case]:
                    who = m.get("user_id") or m.get("name")
                    out.append(AlertFinding(
                        AlertKind.INVESTIGATOR_VOTED, f"{case}:{d.get('round', 1)}:{who}",
                        r.township, month_of(r.local_date), case,
                        {"official": who, "opinion": m.get("opinion"),
                         "round": d.get("round", 1), "held_on": d.get("held_on")}))
    return out


class SupervisionAlert(Aggregate):
    """监管预警: a finding a supervisor must look at. Raised once per subject; closed only
    with a reason."""

    @staticmethod
    def create_id(kind: str, subject: str, **_: Any) -> UUID:
        return alert_id_for(kind, subject)

    @classmethod
    def raise_(cls, kind: str, subject: str, township: str | None, month: str | None,
               case_id: str | None, detail: dict[str, Any], actor: Actor
               ) -> SupervisionAlert:
        return cls(kind=kind, subject=subject, township=township, month=month,
                   case_id=case_id, detail=detail, actor=actor.stored())

    @event("Raised")
    def __init__(self, kind: str, subject: str, township: str | None, month: str | None,
                 case_id: str | None, detail: dict[str, Any], actor: StoredActor) -> None:
        self.kind, self.subject, self.township = kind, subject, township
        self.month, self.case_id = month, case_id
        self.acknowledged = False

    def acknowledge(self, reason: str, actor: Actor) -> None:
        if self.acknowledged:
            raise RuleViolation("archive.alert_acknowledged", "the alert is already closed",
                                field="alert_id")
        if not reason.strip():
            raise RuleViolation("archive.reason_required", "say what was done about it",
                                field="reason")
        self._acknowledged(reason=reason, actor=actor.stored())

    @event("Acknowledged")
    def _acknowledged(self, reason: str, actor: StoredActor) -> None:
        self.acknowledged = True


def jsonable(value: Any) -> Any:
    """Decimals and dates as strings: what a read model, an event and JSON all hold."""
    return json.loads(json.dumps(value, default=str))
