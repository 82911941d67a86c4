"""Review's routes by business area; what they share: the writer and who may call."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import Response
from pydantic import BaseModel

from services.review.application import ReviewApplication
from shared.auth import Principal, Role, require
from shared.web import run_command, service_application

App = Annotated[ReviewApplication, Depends(service_application)]

STAFF = (Role.TOWNSHIP_CLERK, Role.TOWNSHIP_REVIEWER, Role.TOWNSHIP_LEADER, Role.COUNTY_CENTRE,
         Role.COUNTY_BUREAU, Role.DISCIPLINE_INSPECTOR)


def _who(*roles: Role) -> Any:
    return Annotated[Principal, Depends(require(*roles))]


Reader = _who(*STAFF, Role.CONTRACTOR_INVESTIGATOR)
Staff = _who(*STAFF)
Assigner = _who(Role.TOWNSHIP_CLERK, Role.TOWNSHIP_LEADER)
Investigator = _who(Role.TOWNSHIP_CLERK, Role.CONTRACTOR_INVESTIGATOR)
# The county makes its own home visit to a close relative's case (近亲属备案).
Visitor = _who(Role.TOWNSHIP_CLERK, Role.CONTRACTOR_INVESTIGATOR, Role.COUNTY_CENTRE,
               Role.COUNTY_BUREAU)
Clerk = _who(Role.TOWNSHIP_CLERK)
Centre = _who(Role.COUNTY_CENTRE)
Panel = _who(Role.TOWNSHIP_REVIEWER, Role.TOWNSHIP_LEADER)
Leader = _who(Role.TOWNSHIP_LEADER)
Bureau = _who(Role.COUNTY_BUREAU)
Rechecker = _who(Role.TOWNSHIP_CLERK, Role.TOWNSHIP_REVIEWER, Role.TOWNSHIP_LEADER)

TOWNSHIP = r"^\d{9}$"


def command(app: ReviewApplication, request: Request, who: Principal, body: BaseModel | None,
            run: Any, status_code: int = 200) -> Response:
    """One command in its transaction, idempotent with an Idempotency-Key."""
    return run_command(app, request, who, body, run, status_code=status_code)
