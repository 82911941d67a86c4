"""Intake's routes by business area; what every one of them depends on is declared here."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from services.intake.application import IntakeApplication
from shared.auth import Principal, Role, require
from shared.web import service_application

App = Annotated[IntakeApplication, Depends(service_application)]
# Who files: the household online, its village assistant, or the township's clerk.
Filer = Annotated[Principal, Depends(require(Role.VILLAGE_ASSISTANT, Role.TOWNSHIP_CLERK,
                                             Role.PUBLIC))]
Clerk = Annotated[Principal, Depends(require(Role.TOWNSHIP_CLERK))]
Reader = Annotated[Principal, Depends(require(
    Role.VILLAGE_ASSISTANT, Role.TOWNSHIP_CLERK, Role.TOWNSHIP_REVIEWER, Role.TOWNSHIP_LEADER,
    Role.COUNTY_CENTRE, Role.COUNTY_BUREAU, Role.DISCIPLINE_INSPECTOR, Role.PUBLIC))]
Auditor = Annotated[Principal, Depends(require(Role.DISCIPLINE_INSPECTOR, Role.COUNTY_BUREAU,
                                               Role.COUNTY_CENTRE))]
