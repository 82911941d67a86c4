"""The payability check before the lock: rows the bank would refuse, released or excluded."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from services.disbursement.domain import PaidKind
from services.disbursement.routes.common import MONTH, ROSTER, TOWNSHIP, App, Clerk, Reader
from services.disbursement.schemas import HoldsOut, ResolveHolds, holds_json
from shared.web import run_command

router = APIRouter(tags=["disbursement"])


@router.get(ROSTER + "/holds", summary="Rows held by the payability check",
            response_model=HoldsOut)
def holds(kind: PaidKind, app: App, who: Reader, township: str = TOWNSHIP,
          month: str = MONTH) -> dict[str, Any]:
    """Rows the bank would refuse (no or malformed account, a UnionPay card number
    failing Luhn, a holder who is not the payee, an account returned closed, blocked
    or wrong last month), each with its reasons; the lock refuses while any is open."""
    return holds_json(app.roster_holds(who, township, month, kind.value))


@router.post(ROSTER + "/holds/resolve", summary="Release or exclude held rows, with a reason",
             response_model=HoldsOut)
def resolve_holds(body: ResolveHolds, request: Request, kind: PaidKind, app: App, who: Clerk,
                  township: str = TOWNSHIP, month: str = MONTH) -> Response:
    """`released`: paid as drafted (a person checked it); `excluded`: off this roster,
    owed on the next one as 补发."""
    return run_command(app, request, who, body, lambda: holds_json(app.resolve_holds(
        who, township, month, kind.value, body.keys, body.resolution, body.reason)),
        status_code=200)
