"""The county's fund plan (资金发放计划) to the finance bureau, its 分户清单 and receipt."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from services.disbursement.routes.common import (
    MEDIA,
    MONTH,
    App,
    County,
    Finance,
    ListReader,
    PlanReader,
    download,
)
from services.disbursement.schemas import (
    Acknowledge,
    FundPlanDocumentOut,
    FundPlanOut,
    HouseholdListOut,
    IssuePlan,
    plan_json,
)
from shared.web import run_command

router = APIRouter(tags=["disbursement"])
PLAN = "/fund-plans/{month}"


@router.post(PLAN + "/compile", status_code=201, response_model=FundPlanOut)
def compile_plan(request: Request, app: App, who: County, month: str = MONTH) -> Response:
    return run_command(app, request, who, None,
                       lambda: plan_json(app.compile_fund_plan(who, month)))


@router.post(PLAN + "/issue", response_model=FundPlanOut)
def issue(body: IssuePlan, request: Request, app: App, who: County,
          month: str = MONTH) -> Response:
    return run_command(app, request, who, body, lambda: plan_json(
        app.issue_fund_plan(who, month, body.reason)), status_code=200)


@router.get(PLAN, response_model=FundPlanOut, response_model_exclude_unset=True)
def plan(app: App, who: PlanReader, month: str = MONTH) -> dict[str, Any]:
    return plan_json(app.fund_plan(who, month))


@router.get(PLAN + "/document", response_model=FundPlanDocumentOut)
def plan_document(app: App, who: PlanReader, month: str = MONTH) -> Response:
    return download(app.fund_plan_document(who, month),
                    f"资金发放计划-{app.county.code}-{month}.json", "application/json")


@router.post(PLAN + "/household-list", status_code=201,
             summary="The 分户清单 of an issued plan, for the finance bureau's 一卡通 system",
             response_model=HouseholdListOut)
def household_list(request: Request, app: App, who: ListReader,
                   month: str = MONTH) -> Response:
    """An audited disclosure of accounts: the record (JSON), or with `Accept: text/csv`
    the file itself (UTF-8 CSV, a trailer row with count and total)."""
    made: list[tuple[dict[str, Any], bytes]] = []

    def command() -> dict[str, Any]:
        made.append(app.household_list(who, month))
        return made[0][0]

    answer = run_command(app, request, who, None, command)
    if (not made or "idempotent-replay" in answer.headers
            or "text/csv" not in request.headers.get("accept", "")):
        return answer
    return download(made[0][1], f"分户清单-{app.county.code}-{month}.csv", MEDIA["csv"],
                    status_code=201)


@router.post(PLAN + "/acknowledge", response_model=FundPlanOut)
def acknowledge(body: Acknowledge, request: Request, app: App, who: Finance,
                month: str = MONTH) -> Response:
    return run_command(app, request, who, body, lambda: plan_json(app.acknowledge_fund_plan(
        who, month, body.receipt_reference, body.note)), status_code=200)
