"""Publicity's routes by business area; what every one of them depends on is declared here:
the writer, the officials' roles, and the public endpoints' rate limits (no login)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from services.publicity.application import PublicityApplication
from services.publicity.ratelimit import lookup_token, read_token, write_token
from shared.auth import Principal, Role, require
from shared.web import service_application

App = Annotated[PublicityApplication, Depends(service_application)]
# The public: each call spends a token of the client's bucket; the value is the client key.
PublicRead = Annotated[str, Depends(read_token)]
PublicWrite = Annotated[str, Depends(write_token)]
PublicLookup = Annotated[str, Depends(lookup_token)]

# Not the village assistant (a neighbour of the household) nor a contractor.
STAFF = (Role.TOWNSHIP_CLERK, Role.TOWNSHIP_REVIEWER, Role.TOWNSHIP_LEADER,
         Role.COUNTY_CENTRE, Role.COUNTY_BUREAU, Role.DISCIPLINE_INSPECTOR)
Staff = Annotated[Principal, Depends(require(*STAFF))]
TownshipOfficial = Annotated[Principal, Depends(require(
    Role.TOWNSHIP_CLERK, Role.TOWNSHIP_REVIEWER, Role.TOWNSHIP_LEADER))]
