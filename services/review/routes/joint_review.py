"""The township's joint review and opinion, the county's approval, a deadline extended."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import Response

from services.review.routes import App, Bureau, Leader, Panel, command
from services.review.schemas import (
    CaseStep,
    DeadlineExtended,
    ExtendIn,
    JointReviewIn,
    OpinionIn,
    OpinionIssued,
    ReasonsIn,
    case_step,
    plain,
)

router = APIRouter(tags=["review"])


@router.post("/cases/{case_id}/joint-review", response_model=CaseStep, status_code=201)
def joint_review(case_id: UUID, body: JointReviewIn, request: Request, app: App,
                 who: Panel) -> Response:
    return command(app, request, who, body, lambda: case_step(app.hold_joint_review(
        who, case_id, body.held_on, [m.model_dump() for m in body.members],
        body.outcome)), 201)


@router.post("/cases/{case_id}/opinion", response_model=OpinionIssued, status_code=201)
def opinion(case_id: UUID, body: OpinionIn, request: Request, app: App,
            who: Panel) -> Response:
    assessment = {"self_care": body.self_care.model_dump() if body.self_care else None,
                  "care_mode": body.care_mode.value if body.care_mode else None,
                  "band": body.band, "instalments": body.instalments}

    def run() -> dict[str, Any]:
        c = app.issue_opinion(who, case_id, body.approve, body.reasons, assessment)
        assert c.opinion is not None
        return {**case_step(c), **plain({k: v for k, v in c.opinion.items()
                                         if k != "inputs"})}
    return command(app, request, who, body, run, 201)


@router.post("/cases/{case_id}/county-approval", response_model=CaseStep)
def county_approval(case_id: UUID, body: ReasonsIn, request: Request, app: App,
                    who: Bureau) -> Response:
    return command(app, request, who, body, lambda: case_step(
        app.approve_at_county(who, case_id, body.reasons)))


@router.post("/cases/{case_id}/deadline-extension", response_model=DeadlineExtended)
def extend(case_id: UUID, body: ExtendIn, request: Request, app: App,
           who: Leader) -> Response:
    def run() -> dict[str, Any]:
        c = app.extend_deadline(who, case_id, body.reason)
        return {**case_step(c), "decision_due": c.decision_due.isoformat()}
    return command(app, request, who, body, run)
