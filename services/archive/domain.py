"""Archive's domain: the household file (一户一档), the chain alarm, and the replay of a
case from the consolidated timeline.

Pure: no I/O, no framework. The required-documents table and the upload limits arrive as
values (policy data and settings); the envelopes arrive already read from the store.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from enum import StrEnum
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from shared.audit import why_of
from shared.clock import CHINA, local_date
from shared.contracts import StoredActor
from shared.contracts.archive import DocumentFiled
from shared.contracts.audit import AUDIT_RECORD
from shared.contracts.common import AssistanceKind
from shared.contracts.envelope import GENESIS_HASH, Actor, Envelope
from shared.contracts.intake import ApplicationAccepted, ApplicationSubmitted
from shared.contracts.publicity import NoticeClosed, NoticeOpened, ObjectionFiled, ObjectionResolved
from shared.contracts.review import (
    CaseConfirmed,
    CaseOpened,
    CaseRejected,
    EntitlementChanged,
    EntitlementStarted,
    OpinionIssued,
    PayeeChanged,
    TemporaryPaymentApproved,
    TerminationNoticeRequested,
)
from shared.errors import DomainError, RuleViolation

# --- documents ------------------------------------------------------------------------------


class DocumentKind(StrEnum):
    """What a scanned document is (the household file's contents, DOMAIN.md "Archives")."""

    APPLICATION_FORM = "application_form"  # 申请书
    COMMITMENT = "commitment"  # 承诺书 (truthfulness commitment)
    AUTHORIZATION = "authorization"  # 家庭经济状况核对授权书
    HOUSEHOLD_REGISTER = "household_register"  # 户口簿
    ID_CARD = "id_card"  # 身份证
    INCOME_PROOF = "income_proof"  # 收入证明
    DISABILITY_CERTIFICATE = "disability_certificate"  # 残疾证
    ILLNESS_CERTIFICATE = "illness_certificate"  # 疾病诊断证明
    VERIFICATION_REPORT = "verification_report"  # 家庭经济状况核对报告
    HOME_VISIT_FORM = "home_visit_form"  # 入户调查表
    SELF_CARE_ASSESSMENT = "self_care_assessment"  # 生活自理能力评估表 (特困)
    PUBLICITY_PHOTO = "publicity_photo"  # 公示照片
    REVIEW_FORM = "review_form"  # 审核确认表
    DYNAMIC_MANAGEMENT_FORM = "dynamic_management_form"  # 动态管理表


class Stage(StrEnum):
    """How far a case has come; documents are required per stage reached."""

    APPLICATION = "application"  # 申请/受理
    INVESTIGATION = "investigation"  # 调查核实
    REVIEW = "review"  # 审核 (preliminary opinion)
    PUBLICITY = "publicity"  # 公示
    DECISION = "decision"  # 确认
    DYNAMIC_MANAGEMENT = "dynamic_management"  # 动态管理


STAGE_ORDER = tuple(Stage)


class PaperCopy(StrEnum):
    """一式两份: the county bureau and the township each keep one paper copy."""

    COUNTY = "county"
    TOWNSHIP = "township"


class DocumentTooLarge(DomainError):
    status = 413


class UnsupportedDocumentType(DomainError):
    status = 415


# Magic bytes: the content decides the type, never the file name or the declared type.
_MAGIC = (
    ("application/pdf", b"%PDF-"),
    ("image/jpeg", b"\xff\xd8\xff"),
    ("image/png", b"\x89PNG\r\n\x1a\n"),
)


def sniff_media_type(head: bytes) -> str | None:
    return next((media for media, magic in _MAGIC if head.startswith(magic)), None)


def check_document(size: int, head: bytes, max_bytes: int, allowed: Iterable[str]) -> str:
    """The upload limits; returns the sniffed media type."""
    if size == 0:
        raise RuleViolation("archive.document_empty", "the file is empty", field="file")
    if size > max_bytes:
        raise DocumentTooLarge("archive.document_too_large",
                               f"the file is {size} bytes; at most {max_bytes} are accepted",
                               field="file")
    media = sniff_media_type(head)
    if media is None or media not in set(allowed):
        raise UnsupportedDocumentType(
            "archive.document_type",
            f"only {', '.join(sorted(allowed))} are accepted (judged by content, not name)",
            field="file")
    return media


@dataclass(frozen=True)
class RequiredDocuments:
    """Per kind of assistance and stage, the documents a complete file holds (policy data)."""

    table: Mapping[str, Mapping[str, frozenset[str]]]

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Mapping[str, Iterable[str]]]) -> RequiredDocuments:
        table: dict[str, dict[str, frozenset[str]]] = {}
        for kind, stages in raw.items():
            AssistanceKind(kind)  # unknown names fail loudly at start-up, not at upload
            table[kind] = {Stage(s).value: frozenset(DocumentKind(d).value for d in docs)
                           for s, docs in stages.items()}
        return cls(table)

    def missing(self, kind: str | None, stage: str | None,
                filed: Iterable[str]) -> dict[str, list[str]]:
        """What is missing for every stage up to and including the one reached."""
        if kind is None or stage is None:
            return {}
        have = set(filed)
        reached = STAGE_ORDER[: STAGE_ORDER.index(Stage(stage)) + 1]
        out: dict[str, list[str]] = {}
        for s in reached:
            lacking = sorted(self.table.get(kind, {}).get(s.value, frozenset()) - have)
            if lacking:
                out[s.value] = lacking
        return out


@dataclass(frozen=True)
class CaseFacts:
    """What the household file needs to know about a case, from the replayed timeline."""

    case_id: str
    township: str
    village: str | None
    kind: str | None
    stage: str | None
    household_id: str | None


@dataclass(frozen=True)
class Inconsistency:
    """Where a paper copy and the scanned set disagree for one case."""

    case_id: str
    copy: str
    paper_only: list[str]
    scanned_only: list[str]


def file_id_for(household_id: str) -> UUID:
    return uuid5(NAMESPACE_URL, f"lingshui:household-file:{household_id}")


class HouseholdFile(Aggregate):
    """一户一档: one household's file: scanned documents per case, and the custody of its two
    paper copies (一式两份)."""

    @staticmethod
    def create_id(household_id: str, **_: Any) -> UUID:
        return file_id_for(household_id)

    @classmethod
    def open(cls, household_id: str, township: str, actor: Actor) -> HouseholdFile:
        return cls(household_id=household_id, township=township, actor=actor.stored())

    @event("Opened")
    def __init__(self, household_id: str, township: str, actor: StoredActor) -> None:
        self.household_id = household_id
        self.township = township
        self.documents: list[dict[str, Any]] = []
        self.case_kinds: dict[str, str | None] = {}
        self.completed: list[tuple[str, str]] = []
        self.paper: dict[str, dict[str, Any]] = {
            c.value: {"location": None, "items": {}, "checked_out_to": None} for c in PaperCopy}

    # -- scanned documents ---------------------------------------------------------------

    def scanned_kinds(self, case_id: str) -> set[str]:
        return {d["document_kind"] for d in self.documents if d["case_id"] == case_id}

    def file_document(self, case: CaseFacts, document_kind: DocumentKind, sha256: str,
                      size: int, media_type: str, required: RequiredDocuments,
                      actor: Actor) -> None:
        self._same_township(case)
        if any(d["sha256"] == sha256 and d["case_id"] == case.case_id
               and d["document_kind"] == document_kind.value for d in self.documents):
            raise RuleViolation("archive.document_already_filed",
                                "this exact file is already filed for this case and kind",
                                field="file")
        self._document_filed(case_id=case.case_id, assistance_kind=case.kind,
                             document_kind=document_kind.value, sha256=sha256, size=size,
                             media_type=media_type, stage=case.stage, actor=actor.stored())
        if case.stage is not None and (case.case_id, case.stage) not in self.completed \
                and not required.missing(case.kind, case.stage, self.scanned_kinds(case.case_id)):
            self._file_completed(case_id=case.case_id, assistance_kind=case.kind,
                                 stage=case.stage, actor=actor.stored())

    @event("DocumentFiled")
    def _document_filed(self, case_id: str, assistance_kind: str | None, document_kind: str,
                        sha256: str, size: int, media_type: str, stage: str | None,
                        actor: StoredActor) -> None:
        self.case_kinds[case_id] = assistance_kind
        self.documents.append({"case_id": case_id, "document_kind": document_kind,
                               "sha256": sha256, "size": size, "media_type": media_type})

    @event("FileCompleted")
    def _file_completed(self, case_id: str, assistance_kind: str | None, stage: str,
                        actor: StoredActor) -> None:
        self.completed.append((case_id, stage))

    def view_document(self, sha256: str, reason: str, actor: Actor) -> None:
        """Opening a scan (ID cards, income proofs) is itself audited: who, when, why."""
        filed = [d for d in self.documents if d["sha256"] == sha256]
        if not filed:
            raise RuleViolation("archive.no_such_document", "no such document in this file",
                                field="sha256")
        if not reason.strip():
            raise RuleViolation("archive.reason_required", "say why the document is opened",
                                field="reason")
        self._document_viewed(sha256=sha256, case_id=filed[0]["case_id"],
                              document_kind=filed[0]["document_kind"], reason=reason,
                              actor=actor.stored())

    @event("DocumentViewed")
    def _document_viewed(self, sha256: str, case_id: str, document_kind: str, reason: str,
                         actor: StoredActor) -> None:
        pass

    def _same_township(self, case: CaseFacts) -> None:
        if case.township != self.township:
            raise RuleViolation(
                "archive.file_township_mismatch",
                f"case {case.case_id} is in township {case.township}, this household's file "
                f"is kept in {self.township}", field="case_id")

    # -- paper copies (一式两份) -----------------------------------------------------------

    def file_paper_items(self, copy: PaperCopy, case: CaseFacts,
                         document_kinds: list[DocumentKind], location: str,
                         actor: Actor) -> None:
        self._same_township(case)
        if self.paper[copy.value]["checked_out_to"] is not None:
            raise RuleViolation("archive.copy_checked_out",
                                f"the {copy.value} copy is checked out; return it first",
                                field="copy")
        self._paper_items_filed(copy=copy.value, case_id=case.case_id,
                                document_kinds=sorted({d.value for d in document_kinds}),
                                location=location, actor=actor.stored())

    @event("PaperItemsFiled")
    def _paper_items_filed(self, copy: str, case_id: str, document_kinds: list[str],
                           location: str, actor: StoredActor) -> None:
        paper = self.paper[copy]
        paper["location"] = location
        paper["items"].setdefault(case_id, set()).update(document_kinds)

    def check_out(self, copy: PaperCopy, borrower: str, reason: str,
                  actor: Actor) -> None:
        paper = self.paper[copy.value]
        if not paper["items"]:
            raise RuleViolation("archive.copy_not_filed",
                                f"nothing is filed in the {copy.value} copy yet", field="copy")
        if paper["checked_out_to"] is not None:
            raise RuleViolation("archive.copy_already_checked_out",
                                f"the {copy.value} copy is already with "
                                f"{paper['checked_out_to']}", field="copy")
        self._checked_out(copy=copy.value, borrower=borrower, reason=reason, actor=actor.stored())

    @event("CheckedOut")
    def _checked_out(self, copy: str, borrower: str, reason: str,
                     actor: StoredActor) -> None:
        self.paper[copy]["checked_out_to"] = borrower

    def return_copy(self, copy: PaperCopy, location: str, actor: Actor) -> None:
        if self.paper[copy.value]["checked_out_to"] is None:
            raise RuleViolation("archive.copy_not_checked_out",
                                f"the {copy.value} copy is not checked out", field="copy")
        self._returned(copy=copy.value, location=location, actor=actor.stored())

    @event("Returned")
    def _returned(self, copy: str, location: str, actor: StoredActor) -> None:
        self.paper[copy]["checked_out_to"] = None
        self.paper[copy]["location"] = location

    def consistency(self) -> list[Inconsistency]:
        """Where each paper copy and the scanned set disagree, per case and copy."""
        cases = {d["case_id"] for d in self.documents}
        for paper in self.paper.values():
            cases |= set(paper["items"])
        out = []
        for case_id in sorted(cases):
            scanned = self.scanned_kinds(case_id)
            for copy in PaperCopy:
                on_paper = set(self.paper[copy.value]["items"].get(case_id, set()))
                if on_paper != scanned:
                    out.append(Inconsistency(case_id=case_id, copy=copy.value,
                                             paper_only=sorted(on_paper - scanned),
                                             scanned_only=sorted(scanned - on_paper)))
        return out


# --- the hash chain on arrival ----------------------------------------------------------------

SYSTEM_ACTOR = Actor(user_id="archive-chain-verifier", role="system")


def link_verdict(envelope: Envelope, predecessor_hash: str | None) -> str | None:
    """None if the copy links to its aggregate's previous stored link (or to genesis)."""
    if not envelope.hash_is_valid():
        return "hash_mismatch"
    if envelope.prev_hash != (predecessor_hash or GENESIS_HASH):
        return "prev_hash_mismatch"
    return None


def alarm_id_for(upstream: str, aggregate_id: UUID, position: int) -> UUID:
    # One alarm per broken link: replays and rebuilds find it instead of raising it again.
    return uuid5(NAMESPACE_URL, f"lingshui:chain-alarm:{upstream}:{aggregate_id}:{position}")


class ChainAlarm(Aggregate):
    """链路告警: a stored copy that did not link into its chain when it arrived."""

    @staticmethod
    def create_id(upstream: str, upstream_aggregate_id: UUID, upstream_position: int,
                  **_: Any) -> UUID:
        return alarm_id_for(upstream, upstream_aggregate_id, upstream_position)

    @classmethod
    def raise_for(cls, copy: Envelope, reason: str, expected_prev_hash: str,
                  actor: Actor) -> ChainAlarm:
        """The alarm of a copy that did not link (or was refused): what it claimed to be."""
        return cls(
            upstream=copy.source, upstream_aggregate_id=copy.aggregate_id,
            upstream_aggregate_version=copy.aggregate_version, upstream_position=copy.position,
            upstream_event_id=copy.event_id, upstream_type=copy.type, reason=reason,
            expected_prev_hash=expected_prev_hash, found_prev_hash=copy.prev_hash,
            stated_hash=copy.hash, computed_hash=copy.computed_hash(), case_id=copy.case_id,
            township=copy.township or copy.data.get("township"), actor=actor.stored())

    @event("Raised")
    def __init__(self, upstream: str, upstream_aggregate_id: UUID,
                 upstream_aggregate_version: int, upstream_position: int,
                 upstream_event_id: UUID, upstream_type: str, reason: str,
                 expected_prev_hash: str, found_prev_hash: str, stated_hash: str,
                 computed_hash: str, case_id: str | None, township: str | None,
                 actor: StoredActor) -> None:
        self.upstream = upstream
        self.upstream_position = upstream_position
        self.reason = reason
        self.township = township
        self.resolution: str | None = None

    def resolve(self, resolution: str, reason: str | None, actor: Actor) -> None:
        if self.resolution is not None:
            raise RuleViolation("archive.alarm_resolved",
                                f"this alarm was already resolved ({self.resolution})")
        if resolution == "acknowledged" and not (reason or "").strip():
            raise RuleViolation("archive.reason_required",
                                "say why the alarm is closed", field="reason")
        self._resolved(resolution=resolution, reason=reason, actor=actor.stored())

    @event("Resolved")
    def _resolved(self, resolution: str, reason: str | None, actor: StoredActor) -> None:
        self.resolution = resolution


# --- replaying a case from the consolidated timeline ------------------------------------------

# Lifecycle events by their contract types: a renamed contract fails here at import time.
STAGE_OF_TYPE: dict[str, Stage] = {
    ApplicationSubmitted.TYPE: Stage.APPLICATION,
    ApplicationAccepted.TYPE: Stage.APPLICATION,
    CaseOpened.TYPE: Stage.INVESTIGATION,
    OpinionIssued.TYPE: Stage.REVIEW,
    NoticeOpened.TYPE: Stage.PUBLICITY,
    ObjectionFiled.TYPE: Stage.PUBLICITY,
    ObjectionResolved.TYPE: Stage.PUBLICITY,
    NoticeClosed.TYPE: Stage.PUBLICITY,
    CaseConfirmed.TYPE: Stage.DECISION,
    CaseRejected.TYPE: Stage.DECISION,
    EntitlementStarted.TYPE: Stage.DECISION,
    TemporaryPaymentApproved.TYPE: Stage.DECISION,
    EntitlementChanged.TYPE: Stage.DYNAMIC_MANAGEMENT,
    PayeeChanged.TYPE: Stage.DYNAMIC_MANAGEMENT,
    TerminationNoticeRequested.TYPE: Stage.DYNAMIC_MANAGEMENT,
}
STATUS_OF_TYPE = {
    ApplicationSubmitted.TYPE: "submitted", ApplicationAccepted.TYPE: "accepted",
    CaseOpened.TYPE: "under_investigation", OpinionIssued.TYPE: "opinion_issued",
    NoticeOpened.TYPE: "in_publicity", NoticeClosed.TYPE: "publicity_closed",
    CaseConfirmed.TYPE: "confirmed", CaseRejected.TYPE: "rejected",
    EntitlementChanged.TYPE: "entitlement_changed",
    TerminationNoticeRequested.TYPE: "termination_in_publicity",
}
# Review's investigation events: investigation_assigned (the investigation starts),
# home_visit_recorded, and the economic-status verification (verification_reported).
DEFAULT_INVESTIGATION_PREFIXES = ("investigation_", "home_visit_", "verification_")
# The business date each investigation contract states; without one, the day in Lingshui.
INVESTIGATION_DATES = ("assigned_on", "visited_on", "requested_on", "reported_on")
def investigation_day(e: Envelope, zone: tzinfo = CHINA) -> date:
    """When the investigation step happened by the record (not when it was published)."""
    for key in INVESTIGATION_DATES:
        value = e.data.get(key)
        if isinstance(value, str):
            return date.fromisoformat(value)
    return local_date(e.occurred_at, zone)


def why(e: Envelope) -> str | None:
    """The reason a person gave: the audit record's one field; for a copy published
    before records carried it, the same rule over the contract's data."""
    if e.audit is not None:
        return e.audit.why
    return why_of(e.data)


@dataclass
class CaseState:
    """A case as the consolidated timeline tells it, at some moment."""

    case_ids: set[str] = field(default_factory=set)
    application_id: str | None = None
    kind: str | None = None
    township: str | None = None
    village: str | None = None
    household_id: str | None = None
    status: str | None = None
    stage: str | None = None
    close_relative_declared: bool = False
    accepted_on: date | None = None
    investigation_due: date | None = None
    decision_due: date | None = None
    investigated_on: date | None = None
    decided_on: date | None = None
    decision: str | None = None
    opinion_round: int | None = None
    opinion_approve: bool | None = None
    monthly_amount: str | None = None
    advance_assistance: bool = False  # 急难型 先行救助: publicity and checks may follow
    documents: list[str] = field(default_factory=list)
    events: int = 0
    last_event: dict[str, Any] | None = None

    def facts(self, case_id: str) -> CaseFacts:
        assert self.township is not None
        return CaseFacts(case_id=case_id, township=self.township, village=self.village,
                         kind=self.kind, stage=self.stage, household_id=self.household_id)

    def as_dict(self) -> dict[str, Any]:
        d = {k: getattr(self, k) for k in self.__dataclass_fields__}
        d["case_ids"] = sorted(self.case_ids)
        d["documents"] = sorted(set(self.documents))
        return d


def timeline_order(envelopes: Iterable[Envelope]) -> list[Envelope]:
    return sorted(envelopes, key=lambda e: (e.occurred_at, e.source, e.position))


def fold_case(envelopes: Iterable[Envelope], *, at: datetime | None = None,
              investigation_prefixes: tuple[str, ...] = DEFAULT_INVESTIGATION_PREFIXES,
              zone: tzinfo = CHINA) -> CaseState:
    """Replay a case's integration events (optionally only those up to `at`)."""
    s = CaseState()
    for e in timeline_order(envelopes):
        if at is not None and e.occurred_at > at:
            break
        d = e.data
        s.events += 1
        s.last_event = {"type": e.type, "source": e.source, "at": e.occurred_at,
                        "by": e.actor.user_id if e.actor else None}
        if e.case_id:
            s.case_ids.add(e.case_id)
        s.township = e.township or d.get("township") or s.township
        s.village = d.get("village") or s.village
        s.household_id = e.household_id or d.get("household_id") or s.household_id
        s.kind = d.get("kind") or s.kind
        if d.get("application_id"):
            s.application_id = str(d["application_id"])
        if d.get("close_relative_declared") is True:
            s.close_relative_declared = True
        stage = STAGE_OF_TYPE.get(e.type)
        if e.source == "review" and e.type.startswith(investigation_prefixes):
            stage = Stage.INVESTIGATION
            day = investigation_day(e, zone)
            s.investigated_on = min(s.investigated_on or day, day)
        if stage is not None and (s.stage is None
                                  or STAGE_ORDER.index(stage) > STAGE_ORDER.index(Stage(s.stage))):
            s.stage = stage.value
        s.status = STATUS_OF_TYPE.get(e.type, s.status)
        _fold_details(s, e.type, d)
        if e.type == AUDIT_RECORD and e.audit is not None:
            _fold_changes(s, e.audit.changes)
    return s


def fold_aggregate(envelopes: Iterable[Envelope], at: datetime | None = None
                   ) -> tuple[int, dict[str, Any]]:
    """One aggregate's plain values as its audit records tell them, at `at`: the version
    reached and the state, to compare with the owning service's repository at that version."""
    version, state = 0, {}
    for e in sorted(envelopes, key=lambda x: x.aggregate_version):
        if at is not None and e.occurred_at > at:
            break
        version = e.aggregate_version
        for c in e.audit.changes if e.audit else []:
            if c.new is None:
                state.pop(c.field, None)
            else:
                state[c.field] = c.new
    return version, state


def _fold_changes(s: CaseState, changes: Iterable[Any]) -> None:
    # Internal decisions that move a case's dates (a decision time-limit extension).
    for c in changes:
        if c.field == "decision_due" and c.new:
            s.decision_due = date.fromisoformat(c.new)


def _fold_details(s: CaseState, type_: str, d: Mapping[str, Any]) -> None:
    if type_ == ApplicationAccepted.TYPE:
        s.accepted_on = date.fromisoformat(d["accepted_on"])
    elif type_ == CaseOpened.TYPE:
        s.accepted_on = date.fromisoformat(d["accepted_on"])
        s.investigation_due = date.fromisoformat(d["investigation_due"])
        s.decision_due = date.fromisoformat(d["decision_due"])
    elif type_ == OpinionIssued.TYPE:
        s.opinion_round, s.opinion_approve = d.get("round"), d.get("approve")
        s.monthly_amount = d.get("monthly_amount") or s.monthly_amount
        if d.get("publicity_required") is False:
            s.advance_assistance = True
    elif type_ in (CaseConfirmed.TYPE, CaseRejected.TYPE):
        s.decided_on = date.fromisoformat(d["decided_on"])
        s.decision = "confirmed" if type_ == CaseConfirmed.TYPE else "rejected"
        s.monthly_amount = d.get("monthly_amount") or s.monthly_amount
    elif type_ == EntitlementChanged.TYPE:
        s.monthly_amount = d.get("monthly_amount")
    elif type_ == TemporaryPaymentApproved.TYPE and d.get("advance"):
        s.advance_assistance = True
    elif type_ == DocumentFiled.TYPE:
        s.documents.append(d["document_kind"])


def irregularities(s: CaseState, today: date) -> list[str]:
    """What a supervisor must look at: decided without investigation, or past a time limit."""
    found = []
    decided = s.decision is not None
    if (decided or s.opinion_round is not None) and s.investigated_on is None:
        found.append("decided_without_investigation")
    if s.investigation_due and (
            (s.investigated_on and s.investigated_on > s.investigation_due)
            or (s.investigated_on is None and not decided and today > s.investigation_due)):
        found.append("investigation_late")
    if s.decision_due and ((s.decided_on and s.decided_on > s.decision_due)
                           or (not decided and today > s.decision_due)):
        found.append("decision_late")
    return found
