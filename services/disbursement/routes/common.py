"""What every disbursement route shares: the writer, the roles, the path formats, file
answers and uploads."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Path, UploadFile
from fastapi.responses import Response

from services.disbursement.application import DisbursementApplication
from services.disbursement.seal import sha256_hex
from shared.auth import Principal, Role, require
from shared.errors import RuleViolation
from shared.web import service_application

App = Annotated[DisbursementApplication, Depends(service_application)]

TOWNSHIP = Path(pattern=r"^\d{9}$")
MONTH = Path(pattern=r"^[1-9]\d{3}-(0[1-9]|1[0-2])$")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MEDIA = {"csv": "text/csv; charset=utf-8", "xlsx": XLSX}
ACCEPT = {"csv": "text/csv", "xlsx": XLSX}  # asks for the export's file in the answer
ROSTER = "/rosters/{township}/{month}/{kind}"

Clerk = Annotated[Principal, Depends(require(Role.TOWNSHIP_CLERK))]
Reader = Annotated[Principal, Depends(require(
    Role.TOWNSHIP_CLERK, Role.TOWNSHIP_REVIEWER, Role.TOWNSHIP_LEADER, Role.COUNTY_CENTRE,
    Role.COUNTY_BUREAU, Role.DISCIPLINE_INSPECTOR))]
# The seal is the township's signature, a write-off the leader's decision.
Leader = Annotated[Principal, Depends(require(Role.TOWNSHIP_LEADER))]
Filer = Annotated[Principal, Depends(require(Role.TOWNSHIP_LEADER, Role.TOWNSHIP_CLERK))]
County = Annotated[Principal, Depends(require(Role.COUNTY_BUREAU))]
PlanReader = Annotated[Principal, Depends(require(
    Role.COUNTY_BUREAU, Role.COUNTY_CENTRE, Role.DISCIPLINE_INSPECTOR, Role.FINANCE_BUREAU))]
Finance = Annotated[Principal, Depends(require(Role.FINANCE_BUREAU))]
ListReader = Annotated[Principal, Depends(require(Role.FINANCE_BUREAU, Role.COUNTY_BUREAU))]
Verifier = Annotated[Principal, Depends(require(*(set(Role) - {Role.PUBLIC})))]


def download(content: bytes, name: str, media_type: str, status_code: int = 200,
             headers: dict[str, str] | None = None) -> Response:
    return Response(content, status_code=status_code, media_type=media_type, headers={
        "content-disposition": f"attachment; filename*=UTF-8''{quote(name)}",
        "x-content-sha256": sha256_hex(content), "cache-control": "no-store",
        **(headers or {})})


def upload(file: UploadFile, max_name: int = 200) -> tuple[str, bytes]:
    name = file.filename or "upload"
    if len(name) > max_name:
        raise RuleViolation("disbursement.file_name", "the file name is too long", field="file")
    return name, file.file.read()
