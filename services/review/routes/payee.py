"""收款账户变更: a live entitlement's payee gets a new bank account (the old one closed or
blocked), which disbursement pays from the next open roster on."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import Response

from services.review.routes import App, Clerk, command
from services.review.schemas import PayeeChanged, PayeeChangeIn, payee_changed

router = APIRouter(tags=["entitlements"])


@router.post("/entitlements/{entitlement_id}/payee", response_model=PayeeChanged)
def change_payee(entitlement_id: UUID, body: PayeeChangeIn, request: Request, app: App,
                 who: Clerk) -> Response:
    return command(app, request, who, body, lambda: payee_changed(app.change_payee(
        who, entitlement_id, body.holder_name, body.bank, body.account_number, body.reason,
        body.holder_not_member_reason), body.reason))
