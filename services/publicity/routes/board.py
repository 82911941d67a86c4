"""The public board (公示栏), no login: notices posted now, objections (异议) while one is
posted, and the long-term roster (长期公示)."""

from __future__ import annotations

from datetime import date
from uuid import UUID

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from services.publicity.application import PublicityApplication
from services.publicity.routes import App, PublicRead, PublicWrite
from services.publicity.schemas import (
    TOWNSHIP,
    VILLAGE,
    NoticePage,
    ObjectionIn,
    ObjectionReceipt,
    PublicNotice,
    RosterPage,
    public_notice,
    public_roster_item,
    public_subject,
)
from shared.web import Offset, run_command


def _roster(app: PublicityApplication, township: str | None, village: str | None,
            as_of: date | None, limit: int, offset: int) -> RosterPage:
    day, total, rows = app.roster(township=township, village=village, as_of=as_of,
                                  limit=limit, offset=offset)
    return RosterPage(as_of=day, total=total, limit=limit, offset=offset,
                      items=[public_roster_item(app, row) for row in rows])


router = APIRouter(prefix="/public", tags=["public"])


@router.get("/notices", response_model=NoticePage)
def notices(app: App, _: PublicRead, township: str | None = Query(None, pattern=TOWNSHIP),
            village: str | None = Query(None, pattern=VILLAGE),
            limit: int = Query(50, ge=1, le=200), offset: Offset = 0) -> NoticePage:
    total, rows = app.public_notices(township=township, village=village, limit=limit,
                                     offset=offset)
    return NoticePage(total=total, limit=limit, offset=offset,
                      items=[public_notice(app, row) for row in rows])


@router.get("/notices/{notice_id}", response_model=PublicNotice)
def notice(notice_id: UUID, app: App, _: PublicRead) -> PublicNotice:
    return public_notice(app, app.public_notice(notice_id))


@router.post("/notices/{notice_id}/objections", status_code=201,
             response_model=ObjectionReceipt)
def object_(notice_id: UUID, body: ObjectionIn, request: Request, app: App,
            client: PublicWrite) -> Response:
    # Idempotency per client: a retried POST files nothing twice. The client address is
    # hashed for the key and never stored with the objection.
    def command() -> ObjectionReceipt:
        objection_id = app.file_objection(notice_id, text=body.text, contact=body.contact,
                                          objector_name=body.name)
        return ObjectionReceipt(objection_id=objection_id, notice_id=notice_id,
                                status="pending", filed_on=app.today())
    return run_command(app, request, public_subject(client), body, command)


@router.get("/roster/villages/{village}", response_model=RosterPage)
def village_roster(app: App, _: PublicRead, village: str = Path(pattern=VILLAGE),
                   as_of: date | None = None, limit: int = Query(50, ge=1, le=200),
                   offset: Offset = 0) -> RosterPage:
    return _roster(app, None, village, as_of, limit, offset)


@router.get("/roster/townships/{township}", response_model=RosterPage)
def township_roster(app: App, _: PublicRead, township: str = Path(pattern=TOWNSHIP),
                    as_of: date | None = None, limit: int = Query(50, ge=1, le=200),
                    offset: Offset = 0) -> RosterPage:
    return _roster(app, township, None, as_of, limit, offset)
