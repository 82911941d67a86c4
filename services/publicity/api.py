"""Publicity's HTTP API: the public board (no login, rate-limited) and the officials' side.

Public responses are built field by field from `PublicNotice` / `PublicRosterItem`, which
hold only what the rules allow: masked name, household size, kind, amount, village (plus
the notice's own id and dates, needed to object). Nothing else can reach them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from ipaddress import IPv4Network, IPv6Network, ip_address, ip_network
from typing import Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Header, Path, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from services.publicity.application import OfficialView, PublicityApplication
from services.publicity.domain import (
    ANSWER_MAX,
    CODE_LENGTH,
    CONTACT_MAX,
    FINDING_MAX,
    INQUIRY_TEXT_MAX,
    OBJECTION_TEXT_MAX,
    OBJECTOR_NAME_MAX,
    REASON_MAX,
    RECEIPT_PATTERN,
    REPLY_MAX,
    REPORT_TEXT_MAX,
    REPORTER_NAME_MAX,
    Inquiry,
    InvestigationMethod,
    Notice,
    Report,
    ReportCategory,
    ReportQueue,
)
from services.publicity.ratelimit import TokenBucket
from shared.auth import Principal, Role, require
from shared.contracts.common import AssistanceKind
from shared.web import Offset, run_command

TOWNSHIP = r"^\d{9}$"
VILLAGE = r"^\d{12}$"


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ObjectionIn(_In):
    text: str = Field(min_length=1, max_length=OBJECTION_TEXT_MAX)
    contact: str | None = Field(None, max_length=CONTACT_MAX)
    name: str | None = Field(None, max_length=OBJECTOR_NAME_MAX)  # omit to stay anonymous


class InvestigationIn(_In):
    method: InvestigationMethod
    notes: str = Field(min_length=1, max_length=FINDING_MAX)


class ResolutionIn(_In):
    upheld: bool
    finding: str = Field(min_length=1, max_length=FINDING_MAX)  # the reasons, always


class VillageOut(BaseModel):
    code: str
    name: str | None


class PublicNotice(BaseModel):
    """公示 as posted on the village board."""

    notice_id: UUID
    subject: Literal["opinion", "termination"]
    starts_on: date
    ends_on: date
    name: str  # masked by the county's display rule
    household_size: int
    kind: AssistanceKind
    monthly_amount: Decimal | None
    village: VillageOut


class PublicRosterItem(BaseModel):
    """长期公示: name, household size and amount [S2 Art. 24], with kind and village."""

    reference: UUID  # opaque; lets a report (举报) name the entry without naming anyone
    name: str
    household_size: int
    kind: AssistanceKind
    monthly_amount: Decimal
    village: VillageOut


class NoticePage(BaseModel):
    total: int
    limit: int
    offset: int
    items: list[PublicNotice]


class RosterPage(BaseModel):
    as_of: date
    total: int
    limit: int
    offset: int
    items: list[PublicRosterItem]


class ObjectionReceipt(BaseModel):
    objection_id: UUID
    notice_id: UUID
    status: str
    filed_on: date


class ObjectionState(BaseModel):
    objection_id: UUID
    status: str
    upheld: bool | None
    finding: str | None
    notice_status: str
    outcome: str | None


LOOPBACK: tuple[IPv4Network | IPv6Network, ...] = (ip_network("127.0.0.0/8"),
                                                   ip_network("::1/128"))


def parse_networks(text: str) -> tuple[IPv4Network | IPv6Network, ...]:
    """"127.0.0.1/32, 10.0.0.0/8": the proxies whose X-Forwarded-For is believed."""
    return tuple(ip_network(part.strip(), strict=False) for part in text.split(",")
                 if part.strip())


def _trusted(peer: str, proxies: tuple[IPv4Network | IPv6Network, ...]) -> bool:
    try:
        address = ip_address(peer)
    except ValueError:
        return False
    return any(address in network for network in proxies)


def client_key(request: Request, proxy_hops: int,
               trusted_proxies: tuple[IPv4Network | IPv6Network, ...] = LOOPBACK) -> str:
    """Who to rate-limit: the peer, or behind `proxy_hops` trusted proxies the address the
    outermost of them saw. Counted from the right: entries further left are the client's
    own claims and could be forged to dodge the limit. The header counts only when the peer
    is one of `trusted_proxies`: sent straight to this service, it is the client's claim."""
    peer = request.client.host if request.client else "unknown"
    if proxy_hops < 1 or not _trusted(peer, trusted_proxies):
        return peer
    chain = [a.strip() for a in request.headers.get("x-forwarded-for", "").split(",")
             if a.strip()]
    return chain[-proxy_hops][:64] if len(chain) >= proxy_hops else peer


def _village(app: PublicityApplication, code: str) -> VillageOut:
    return VillageOut(code=code, name=app.village_name(code))


def public_notice(app: PublicityApplication, row: dict[str, Any]) -> PublicNotice:
    return PublicNotice(
        notice_id=row["notice_id"], subject=row["subject"], starts_on=row["starts_on"],
        ends_on=row["ends_on"], name=row["display_name"],
        household_size=row["household_size"], kind=row["kind"],
        monthly_amount=row["monthly_amount"], village=_village(app, row["village"]))


def public_roster_item(app: PublicityApplication, row: dict[str, Any]) -> PublicRosterItem:
    return PublicRosterItem(
        reference=row["entry_id"], name=row["display_name"],
        household_size=row["household_size"], kind=row["kind"],
        monthly_amount=row["monthly_amount"], village=_village(app, row["village"]))


def limited(bucket: TokenBucket, proxy_hops: int,
            trusted_proxies: tuple[IPv4Network | IPv6Network, ...] = LOOPBACK,
            ) -> Callable[[Request], str]:
    """A dependency that charges the calling client one token from `bucket`."""
    def take(request: Request) -> str:
        key = client_key(request, proxy_hops, trusted_proxies)
        bucket.take(key)
        return key
    return take


def public_router(app: PublicityApplication, reads: TokenBucket, writes: TokenBucket,
                  proxy_hops: int = 0,
                  trusted_proxies: tuple[IPv4Network | IPv6Network, ...] = LOOPBACK,
                  ) -> APIRouter:
    """No login: anyone may read the board and object (异议) while a notice is posted."""
    r = APIRouter(prefix="/public", tags=["public"])

    reader = limited(reads, proxy_hops, trusted_proxies)
    writer = limited(writes, proxy_hops, trusted_proxies)

    @r.get("/notices", response_model=NoticePage)
    def notices(township: str | None = Query(None, pattern=TOWNSHIP),
                village: str | None = Query(None, pattern=VILLAGE),
                limit: int = Query(50, ge=1, le=200), offset: Offset = 0,
                _: str = Depends(reader)) -> NoticePage:
        total, rows = app.public_notices(township=township, village=village, limit=limit,
                                         offset=offset)
        return NoticePage(total=total, limit=limit, offset=offset,
                          items=[public_notice(app, row) for row in rows])

    @r.get("/notices/{notice_id}", response_model=PublicNotice)
    def notice(notice_id: UUID, _: str = Depends(reader)) -> PublicNotice:
        return public_notice(app, app.public_notice(notice_id))

    @r.post("/notices/{notice_id}/objections", status_code=201, response_model=ObjectionReceipt)
    def object_(notice_id: UUID, body: ObjectionIn, request: Request,
                client: str = Depends(writer)) -> Response:
        # Idempotency per client: a retried POST files nothing twice. The client address is
        # hashed for the key and never stored with the objection.
        subject = "public:" + hashlib.sha256(client.encode()).hexdigest()[:32]
        who = Principal(user_id=subject, role=Role.PUBLIC)

        def command() -> ObjectionReceipt:
            objection_id = app.file_objection(notice_id, text=body.text, contact=body.contact,
                                              objector_name=body.name)
            return ObjectionReceipt(objection_id=objection_id, notice_id=notice_id,
                                    status="pending", filed_on=app.today())
        return run_command(app, request, who, body, command)

    @r.get("/roster/villages/{village}", response_model=RosterPage)
    def village_roster(village: str = Path(pattern=VILLAGE), as_of: date | None = None,
                       limit: int = Query(50, ge=1, le=200), offset: Offset = 0,
                       _: str = Depends(reader)) -> RosterPage:
        return _roster(app, None, village, as_of, limit, offset)

    @r.get("/roster/townships/{township}", response_model=RosterPage)
    def township_roster(township: str = Path(pattern=TOWNSHIP), as_of: date | None = None,
                        limit: int = Query(50, ge=1, le=200), offset: Offset = 0,
                        _: str = Depends(reader)) -> RosterPage:
        return _roster(app, township, None, as_of, limit, offset)

    return r


def _roster(app: PublicityApplication, township: str | None, village: str | None,
            as_of: date | None, limit: int, offset: int) -> RosterPage:
    day, total, rows = app.roster(township=township, village=village, as_of=as_of,
                                  limit=limit, offset=offset)
    return RosterPage(as_of=day, total=total, limit=limit, offset=offset,
                      items=[public_roster_item(app, row) for row in rows])


# --- officials ------------------------------------------------------------------------------

# Who sees an objector's words and contact: the township that handles it and the county's
# oversight; not the village assistant, who lives next to the household objected to.
OBJECTION_READERS = frozenset({Role.TOWNSHIP_CLERK, Role.TOWNSHIP_REVIEWER,
                               Role.TOWNSHIP_LEADER, Role.COUNTY_CENTRE, Role.COUNTY_BUREAU,
                               Role.DISCIPLINE_INSPECTOR})


def _official(n: Notice, who: Principal) -> dict[str, Any]:
    show = who.role in OBJECTION_READERS
    objections = [
        {**o, "text": o["text"] if show else None, "contact": o["contact"] if show else None,
         "objector_name": o["objector_name"] if show else None}
        for o in n.objections.values()]
    return {"notice_id": str(n.id), "version": n.version, "case_id": str(n.case_id),
            "subject": n.subject, "round": n.round, "kind": n.kind, "township": n.township,
            "village": n.village, "status": n.status, "starts_on": n.starts_on,
            "ends_on": n.ends_on, "display_name": n.display_name,
            "household_size": n.household_size, "monthly_amount": n.monthly_amount,
            "approve": n.approve, "outcome": n.outcome, "finding": n.finding,
            "closed_on": n.closed_on, "objections": objections}


def official_router(app: PublicityApplication) -> APIRouter:
    r = APIRouter(tags=["notices"])
    readers = require(Role.VILLAGE_ASSISTANT, *OBJECTION_READERS)
    investigators = require(Role.TOWNSHIP_CLERK, Role.TOWNSHIP_REVIEWER, Role.TOWNSHIP_LEADER)
    # The finding is the joint-review group's (审核确认小组) to give.
    deciders = require(Role.TOWNSHIP_REVIEWER, Role.TOWNSHIP_LEADER)

    @r.get("/notices")
    def list_(township: str = Query(pattern=TOWNSHIP), view: OfficialView = "open",
              limit: int = Query(50, ge=1, le=500), offset: Offset = 0,
              who: Principal = Depends(readers)) -> dict[str, Any]:
        total, items = app.official_notices(who, township, view, limit, offset)
        return {"total": total, "limit": limit, "offset": offset, "view": view,
                "items": items}

    @r.get("/notices/{notice_id}")
    def read(notice_id: UUID, who: Principal = Depends(readers)) -> dict[str, Any]:
        return _official(app.notice(who, notice_id), who)

    @r.post("/notices/{notice_id}/objections/{objection_id}/investigation",
            response_model=ObjectionState)
    def investigate(notice_id: UUID, objection_id: UUID, body: InvestigationIn,
                    request: Request, who: Principal = Depends(investigators)) -> Response:
        def command() -> ObjectionState:
            n = app.record_investigation(who, notice_id, objection_id, method=body.method,
                                         notes=body.notes)
            return _state(n, objection_id)
        return run_command(app, request, who, body, command, status_code=200)

    @r.post("/notices/{notice_id}/objections/{objection_id}/resolution",
            response_model=ObjectionState)
    def resolve(notice_id: UUID, objection_id: UUID, body: ResolutionIn, request: Request,
                who: Principal = Depends(deciders)) -> Response:
        def command() -> ObjectionState:
            n = app.resolve_objection(who, notice_id, objection_id, upheld=body.upheld,
                                      finding=body.finding)
            return _state(n, objection_id)
        return run_command(app, request, who, body, command, status_code=200)

    return r


def _state(n: Notice, objection_id: UUID) -> ObjectionState:
    o = n.objections[str(objection_id)]
    return ObjectionState(objection_id=objection_id, status=o["status"], upheld=o["upheld"],
                          finding=o["finding"], notice_status=n.status, outcome=n.outcome)



# =============================================================================================
# The public channel (issue #10): reports (举报), inquiries (咨询), policy information
# =============================================================================================
# Text is stored as given and only ever returned inside JSON, which escapes it; nothing here
# renders HTML. Public responses also tell browsers not to sniff or run them.

CODE_HEADER = "Receipt-Code"


class ReportIn(_In):
    category: ReportCategory
    village: str = Field(pattern=VILLAGE)
    reference: UUID | None = None  # a notice id or roster reference from the public board
    text: str = Field(min_length=1, max_length=REPORT_TEXT_MAX)
    contact: str | None = Field(None, max_length=CONTACT_MAX)
    name: str | None = Field(None, max_length=REPORTER_NAME_MAX)  # omit to stay anonymous


class InquiryIn(_In):
    township: str | None = Field(None, pattern=TOWNSHIP)
    village: str | None = Field(None, pattern=VILLAGE)
    topic: AssistanceKind | None = None
    question: str = Field(min_length=1, max_length=INQUIRY_TEXT_MAX)
    contact: str | None = Field(None, max_length=CONTACT_MAX)
    publish_consent: bool = False  # the answer may be published (with the question)


class ReceiptOut(BaseModel):
    receipt: str
    code: str
    filed_on: date
    note: str = ("Keep the receipt number and the code: the code is shown only now and is "
                 "needed to see the status.")


class InquiryReceiptOut(ReceiptOut):
    due_on: date


class ReportStatusOut(BaseModel):
    """What the reporter sees: their own report's progress, never anyone's data."""

    receipt: str
    category: ReportCategory
    status: str
    filed_on: date
    concluded_on: date | None
    outcome: Literal["upheld", "not_upheld"] | None
    reply: str | None


class InquiryStatusOut(BaseModel):
    receipt: str
    status: str
    asked_on: date
    due_on: date
    answered_on: date | None
    answer: str | None
    published: bool


def _code_shown_once(answer: dict[str, Any]) -> dict[str, Any]:
    # A retried filing gets its receipt back, never the code: that is shown once, not stored.
    return {**answer, "code": None,
            "note": "filed already; the code was shown once when the filing was made"}


def _public_subject(client: str) -> Principal:
    return Principal(user_id="public:" + hashlib.sha256(client.encode()).hexdigest()[:32],
                     role=Role.PUBLIC)


def _no_sniff(response: Response) -> None:
    response.headers["x-content-type-options"] = "nosniff"
    response.headers["content-security-policy"] = "default-src 'none'"


def channel_public_router(app: PublicityApplication, reads: TokenBucket, writes: TokenBucket,
                          lookups: TokenBucket, proxy_hops: int = 0,
                          trusted_proxies: tuple[IPv4Network | IPv6Network, ...] = LOOPBACK,
                          ) -> APIRouter:
    """No login: file a report, ask, follow either with its receipt and code, read policy."""
    r = APIRouter(prefix="/public", tags=["public channel"], dependencies=[Depends(_no_sniff)])

    reader = limited(reads, proxy_hops, trusted_proxies)
    writer = limited(writes, proxy_hops, trusted_proxies)

    looker = limited(lookups, proxy_hops, trusted_proxies)

    code_header = Header(alias=CODE_HEADER, min_length=CODE_LENGTH,
                         max_length=CODE_LENGTH + 8)

    @r.post("/reports", status_code=201, response_model=ReceiptOut)
    def file_report(body: ReportIn, request: Request,
                    client: str = Depends(writer)) -> Response:
        def command() -> ReceiptOut:
            report, secret = app.file_report(
                category=body.category, village=body.village, reference=body.reference,
                text=body.text, contact=body.contact, reporter_name=body.name)
            return ReceiptOut(receipt=secret.receipt, code=secret.code,
                              filed_on=report.filed_on)
        return run_command(app, request, _public_subject(client), body, command,
                           replay_redact=_code_shown_once)

    @r.get("/reports/{receipt}", response_model=ReportStatusOut)
    def report_status(receipt: str = Path(pattern=RECEIPT_PATTERN),
                      code: str = code_header, _: str = Depends(looker)) -> ReportStatusOut:
        rep = app.report_for_reporter(receipt, code)
        outcome = None if rep.upheld is None else ("upheld" if rep.upheld else "not_upheld")
        return ReportStatusOut(receipt=rep.receipt, category=rep.category,
                               status=rep.status, filed_on=rep.filed_on,
                               concluded_on=rep.concluded_on, outcome=outcome,
                               reply=rep.reply)

    @r.post("/inquiries", status_code=201, response_model=InquiryReceiptOut)
    def ask(body: InquiryIn, request: Request, client: str = Depends(writer)) -> Response:
        def command() -> InquiryReceiptOut:
            inquiry, secret = app.ask(
                township=body.township, village=body.village, topic=body.topic,
                question=body.question, contact=body.contact,
                publish_consent=body.publish_consent)
            return InquiryReceiptOut(receipt=secret.receipt, code=secret.code,
                                     filed_on=inquiry.asked_on, due_on=inquiry.due_on)
        return run_command(app, request, _public_subject(client), body, command,
                           replay_redact=_code_shown_once)

    @r.get("/inquiries/{receipt}", response_model=InquiryStatusOut)
    def inquiry_status(receipt: str = Path(pattern=RECEIPT_PATTERN),
                       code: str = code_header,
                       _: str = Depends(looker)) -> InquiryStatusOut:
        q = app.inquiry_for_asker(receipt, code)
        return InquiryStatusOut(receipt=q.receipt, status=q.status, asked_on=q.asked_on,
                                due_on=q.due_on, answered_on=q.answered_on, answer=q.answer,
                                published=q.published)

    @r.get("/answers")
    def answers(township: str | None = Query(None, pattern=TOWNSHIP),
                topic: AssistanceKind | None = None, limit: int = Query(50, ge=1, le=200),
                offset: Offset = 0, _: str = Depends(reader)) -> dict[str, Any]:
        """Answered inquiries whose askers allowed publication: question and answer only."""
        total, rows = app.published_answers(township=township, topic=topic, limit=limit,
                                            offset=offset)
        return {"total": total, "limit": limit, "offset": offset, "items": rows}

    @r.get("/policy/standards")
    def standards(on: date | None = None, _: str = Depends(reader)) -> dict[str, Any]:
        return app.standards(on)

    @r.get("/policy/time-limits")
    def time_limits(on: date | None = None, _: str = Depends(reader)) -> dict[str, Any]:
        return app.time_limits(on)

    @r.get("/policy/kinds/{kind}")
    def kind_information(kind: AssistanceKind, _: str = Depends(reader)) -> dict[str, Any]:
        return app.kind_information(kind)

    @r.get("/townships")
    def townships(_: str = Depends(reader)) -> dict[str, Any]:
        return app.township_offices()

    return r


class ReportInvestigationIn(_In):
    notes: str = Field(min_length=1, max_length=FINDING_MAX)


class ReportFindingIn(_In):
    upheld: bool
    finding: str = Field(min_length=1, max_length=FINDING_MAX)  # the reasons, always
    reply: str | None = Field(None, max_length=REPLY_MAX)  # for the reporter: no one's data
    request_recheck: bool = False  # an upheld report about an official: recheck the case too


class EscalationIn(_In):
    reason: str = Field(min_length=1, max_length=REASON_MAX)


class AnswerIn(_In):
    answer: str = Field(min_length=1, max_length=ANSWER_MAX)
    publish: bool = True  # withhold when the question holds the asker's own circumstances


def report_view(rep: Report) -> dict[str, Any]:
    return jsonable_encoder({
        "report_id": str(rep.id), "version": rep.version, "receipt": rep.receipt,
        "category": rep.category, "queue": rep.queue, "township": rep.township,
        "village": rep.village, "reference": rep.reference, "case_id": rep.case_id,
        "entitlement_id": rep.entitlement_id, "household_id": rep.household_id,
        "text": rep.text, "contact": rep.contact, "reporter_name": rep.reporter_name,
        "filed_on": rep.filed_on, "status": rep.status, "routes": rep.routes,
        "investigations": rep.investigations, "upheld": rep.upheld, "finding": rep.finding,
        "reply": rep.reply, "concluded_on": rep.concluded_on,
        "recheck_requested": rep.recheck_requested})


def inquiry_view(q: Inquiry) -> dict[str, Any]:
    return jsonable_encoder({
        "inquiry_id": str(q.id), "version": q.version, "receipt": q.receipt,
        "township": q.township, "village": q.village, "topic": q.topic,
        "question": q.question, "contact": q.contact, "publish_consent": q.publish_consent,
        "asked_on": q.asked_on, "due_on": q.due_on, "due_provisional": q.due_provisional,
        "status": q.status, "answer": q.answer, "answered_on": q.answered_on,
        "published": q.published})


def channel_official_router(app: PublicityApplication) -> APIRouter:
    r = APIRouter(tags=["reports and inquiries"])
    # Not the village assistant (a neighbour of the household reported) nor a contractor.
    staff = (Role.TOWNSHIP_CLERK, Role.TOWNSHIP_REVIEWER, Role.TOWNSHIP_LEADER,
             Role.COUNTY_CENTRE, Role.COUNTY_BUREAU, Role.DISCIPLINE_INSPECTOR)
    readers = require(*staff)
    # Who may act on a given report is the domain's rule (queue, role, township).
    handlers = require(Role.TOWNSHIP_CLERK, Role.TOWNSHIP_REVIEWER, Role.TOWNSHIP_LEADER,
                       Role.DISCIPLINE_INSPECTOR)
    answerers = require(Role.TOWNSHIP_CLERK, Role.TOWNSHIP_REVIEWER, Role.TOWNSHIP_LEADER)

    @r.get("/reports")
    def reports(queue: ReportQueue = ReportQueue.TOWNSHIP,
                township: str | None = Query(None, pattern=TOWNSHIP),
                view: Literal["open", "concluded", "all"] = "open",
                limit: int = Query(50, ge=1, le=500), offset: Offset = 0,
                who: Principal = Depends(readers)) -> dict[str, Any]:
        total, items = app.reports(who, queue=queue, township=township, view=view,
                                   limit=limit, offset=offset)
        return {"total": total, "limit": limit, "offset": offset, "queue": queue,
                "view": view, "items": items}

    @r.get("/reports/{report_id}")
    def report(report_id: UUID, who: Principal = Depends(readers)) -> dict[str, Any]:
        return report_view(app.report(who, report_id))

    @r.post("/reports/{report_id}/investigation")
    def investigate(report_id: UUID, body: ReportInvestigationIn, request: Request,
                    who: Principal = Depends(handlers)) -> Response:
        return run_command(app, request, who, body, lambda: report_view(
            app.record_report_investigation(who, report_id, body.notes)), status_code=200)

    @r.post("/reports/{report_id}/finding")
    def finding(report_id: UUID, body: ReportFindingIn, request: Request,
                who: Principal = Depends(handlers)) -> Response:
        return run_command(app, request, who, body, lambda: report_view(
            app.record_report_finding(who, report_id, upheld=body.upheld,
                                      finding=body.finding, reply=body.reply,
                                      request_recheck=body.request_recheck)),
            status_code=200)

    @r.post("/reports/{report_id}/escalation")
    def escalate(report_id: UUID, body: EscalationIn, request: Request,
                 who: Principal = Depends(readers)) -> Response:
        return run_command(app, request, who, body, lambda: report_view(
            app.escalate_report(who, report_id, body.reason)), status_code=200)

    @r.get("/inquiries")
    def inquiries(township: str = Query(pattern=TOWNSHIP),
                  view: Literal["open", "overdue", "answered", "all"] = "open",
                  limit: int = Query(50, ge=1, le=500), offset: Offset = 0,
                  who: Principal = Depends(readers)) -> dict[str, Any]:
        total, items = app.inquiries(who, township, view, limit, offset)
        return {"total": total, "limit": limit, "offset": offset, "view": view,
                "items": items}

    @r.get("/inquiries/{inquiry_id}")
    def inquiry(inquiry_id: UUID, who: Principal = Depends(readers)) -> dict[str, Any]:
        return inquiry_view(app.inquiry(who, inquiry_id))

    @r.post("/inquiries/{inquiry_id}/answer")
    def answer(inquiry_id: UUID, body: AnswerIn, request: Request,
               who: Principal = Depends(answerers)) -> Response:
        return run_command(app, request, who, body, lambda: inquiry_view(
            app.answer_inquiry(who, inquiry_id, body.answer, body.publish)), status_code=200)

    return r
