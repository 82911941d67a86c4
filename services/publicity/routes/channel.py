"""The public channel (issue #10), no login: file a report (举报) or ask (咨询), follow either
with its receipt and code. Text is stored as given and only ever returned inside JSON,
which escapes it; public responses also tell browsers not to sniff or run them."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Header, Path, Request
from fastapi.responses import Response

from services.publicity.domain import CODE_LENGTH, RECEIPT_PATTERN
from services.publicity.routes import App, PublicLookup, PublicWrite
from services.publicity.schemas import (
    CODE_HEADER,
    InquiryIn,
    InquiryReceiptOut,
    InquiryStatusOut,
    ReceiptOut,
    ReportIn,
    ReportStatusOut,
    code_shown_once,
    no_sniff,
    public_subject,
)
from shared.web import run_command

CODE = Header(alias=CODE_HEADER, min_length=CODE_LENGTH, max_length=CODE_LENGTH + 8)

router = APIRouter(prefix="/public", tags=["public channel"], dependencies=[Depends(no_sniff)])


@router.post("/reports", status_code=201, response_model=ReceiptOut)
def file_report(body: ReportIn, request: Request, app: App, client: PublicWrite) -> Response:
    def command() -> ReceiptOut:
        report, secret = app.file_report(
            category=body.category, village=body.village, reference=body.reference,
            text=body.text, contact=body.contact, reporter_name=body.name)
        return ReceiptOut(receipt=secret.receipt, code=secret.code, filed_on=report.filed_on)
    return run_command(app, request, public_subject(client), body, command,
                       replay_redact=code_shown_once)


@router.get("/reports/{receipt}", response_model=ReportStatusOut)
def report_status(app: App, _: PublicLookup, receipt: str = Path(pattern=RECEIPT_PATTERN),
                  code: str = CODE) -> ReportStatusOut:
    rep = app.report_for_reporter(receipt, code)
    outcome = None if rep.upheld is None else ("upheld" if rep.upheld else "not_upheld")
    return ReportStatusOut(receipt=rep.receipt, category=rep.category, status=rep.status,
                           filed_on=rep.filed_on, concluded_on=rep.concluded_on,
                           outcome=outcome, reply=rep.reply)


@router.post("/inquiries", status_code=201, response_model=InquiryReceiptOut)
def ask(body: InquiryIn, request: Request, app: App, client: PublicWrite) -> Response:
    def command() -> InquiryReceiptOut:
        inquiry, secret = app.ask(
            township=body.township, village=body.village, topic=body.topic,
            question=body.question, contact=body.contact,
            publish_consent=body.publish_consent)
        return InquiryReceiptOut(receipt=secret.receipt, code=secret.code,
                                 filed_on=inquiry.asked_on, due_on=inquiry.due_on)
    return run_command(app, request, public_subject(client), body, command,
                       replay_redact=code_shown_once)


@router.get("/inquiries/{receipt}", response_model=InquiryStatusOut)
def inquiry_status(app: App, _: PublicLookup, receipt: str = Path(pattern=RECEIPT_PATTERN),
                   code: str = CODE) -> InquiryStatusOut:
    q = app.inquiry_for_asker(receipt, code)
    return InquiryStatusOut(receipt=q.receipt, status=q.status, asked_on=q.asked_on,
                            due_on=q.due_on, answered_on=q.answered_on, answer=q.answer,
                            published=q.published)
