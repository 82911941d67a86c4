"""Archive's routes, one module per business area; what they share: the writer each
handler takes (`App`), who may call (roles), and the XLSX download."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import Depends
from fastapi.responses import Response

from services.archive.application import ArchiveApplication
from services.archive.report_files import XLSX
from shared.auth import Role, require
from shared.web import service_application

App = Annotated[ArchiveApplication, Depends(service_application)]

filers = require(Role.VILLAGE_ASSISTANT, Role.TOWNSHIP_CLERK, Role.TOWNSHIP_REVIEWER,
                 Role.TOWNSHIP_LEADER, Role.COUNTY_CENTRE, Role.COUNTY_BUREAU)
custodians = require(Role.TOWNSHIP_CLERK, Role.TOWNSHIP_LEADER, Role.COUNTY_CENTRE,
                     Role.COUNTY_BUREAU)
readers = require(Role.TOWNSHIP_CLERK, Role.TOWNSHIP_REVIEWER, Role.TOWNSHIP_LEADER,
                  Role.COUNTY_CENTRE, Role.COUNTY_BUREAU, Role.DISCIPLINE_INSPECTOR)
auditors = readers  # township staff: their own township only (checked in the application)
county = require(Role.COUNTY_CENTRE, Role.COUNTY_BUREAU, Role.DISCIPLINE_INSPECTOR)
# County supervision (报备, statistics, alerts).
township_staff = require(Role.TOWNSHIP_CLERK, Role.TOWNSHIP_REVIEWER, Role.TOWNSHIP_LEADER)
filing_readers = readers
leader = require(Role.TOWNSHIP_LEADER)
bureau = require(Role.COUNTY_BUREAU)
answerers = require(Role.TOWNSHIP_CLERK, Role.TOWNSHIP_LEADER)
supervisors = county
centre = require(Role.COUNTY_CENTRE)


def xlsx(content: bytes, name: str, **headers: str) -> Response:
    return Response(content, media_type=XLSX, headers={
        "content-disposition": f"attachment; filename*=UTF-8''{quote(name)}",
        "cache-control": "no-store", **headers})
