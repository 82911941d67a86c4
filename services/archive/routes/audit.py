"""The audit console: timelines, state at a past instant, and chain verification."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from fastapi import APIRouter, Depends, Path, Query

from services.archive.routes import App, auditors, county
from services.archive.schemas import (
    MAX_POSITION,
    AggregateStateAt,
    CaseId,
    CaseStateAt,
    CaseTimeline,
    ChainVerification,
    HouseholdId,
    HouseholdTimeline,
)
from shared.auth import Principal
from shared.contracts.common import SERVICES
from shared.errors import RuleViolation

Source = Path(pattern="^(" + "|".join(SERVICES) + ")$")


def _aware(at: datetime | None) -> datetime | None:
    if at is not None and at.tzinfo is None:
        raise RuleViolation("archive.naive_timestamp",
                            "give the time with its offset, e.g. 2025-03-01T12:00:00+08:00",
                            field="at")
    return at


router = APIRouter(prefix="/audit", tags=["audit"])


@router.get("/cases/{case_id}/timeline", response_model=CaseTimeline)
def case_timeline(app: App, case_id: str = CaseId,
                  who: Principal = Depends(auditors)) -> CaseTimeline:
    return CaseTimeline.model_validate(app.case_timeline(who, case_id))


@router.get("/households/{household_id}/timeline", response_model=HouseholdTimeline)
def household_timeline(app: App, household_id: str = HouseholdId,
                       who: Principal = Depends(auditors)) -> HouseholdTimeline:
    return HouseholdTimeline.model_validate(app.household_timeline(who, household_id))


@router.get("/cases/{case_id}/state", response_model=CaseStateAt)
def case_state(app: App, case_id: str = CaseId, at: datetime | None = Query(None),
               who: Principal = Depends(auditors)) -> CaseStateAt:
    return CaseStateAt.model_validate(app.case_state(who, case_id, _aware(at)))


@router.get("/aggregates/{source}/{aggregate_id}/state", response_model=AggregateStateAt)
def aggregate_state(app: App, source: str = Source, aggregate_id: UUID = Path(),
                    at: datetime | None = Query(None),
                    who: Principal = Depends(auditors)) -> AggregateStateAt:
    return AggregateStateAt.model_validate(
        app.aggregate_state(who, source, aggregate_id, _aware(at)))


@router.get("/cases/{case_id}/verification", response_model=ChainVerification)
def verify_case(app: App, case_id: str = CaseId,
                who: Principal = Depends(auditors)) -> ChainVerification:
    return ChainVerification.model_validate(app.verify_case(who, case_id))


@router.get("/streams/{source}/verification", response_model=ChainVerification)
def verify_stream(app: App, source: str = Source,
                  first: int = Query(1, ge=1, le=MAX_POSITION),
                  last: int | None = Query(None, ge=1, le=MAX_POSITION),
                  who: Principal = Depends(county)) -> ChainVerification:
    return ChainVerification.model_validate(app.verify_stream(who, source, first, last))
