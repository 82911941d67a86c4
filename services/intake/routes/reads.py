"""Reading applications: one in full (masked unless asked and allowed), what it lacks, who
saw it unmasked, and the list."""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Query

from services.intake.domain import Status
from services.intake.routes import App, Auditor, Reader
from services.intake.schemas import (
    ApplicationPage,
    ApplicationView,
    DisclosuresOut,
    MissingOut,
    plain,
    render_for,
)
from shared.contracts.common import AssistanceKind
from shared.web import Offset

router = APIRouter(tags=["applications"])


@router.get("/applications/{application_id}", response_model=ApplicationView,
            response_model_exclude_unset=True)
def read(application_id: UUID, app: App, who: Reader,
         unmask: bool = Query(False, description="show ID numbers, bank account, phones"),
         reason: str | None = Query(None, max_length=200, description="why, if unmasking"),
         ) -> dict[str, Any]:
    return render_for(who, app.view(who, application_id, unmask, reason), unmask)


@router.get("/applications/{application_id}/missing", response_model=MissingOut)
def missing(application_id: UUID, app: App, who: Reader) -> dict[str, Any]:
    """What the filing still lacks against its checklist (for the 一次性告知 notice)."""
    a = app.application(who, application_id)
    return {"application_id": str(a.id), "missing": [m.to_stored() for m in app.missing(a)]}


@router.get("/applications/{application_id}/disclosures", response_model=DisclosuresOut)
def disclosures(application_id: UUID, app: App, who: Auditor) -> dict[str, Any]:
    """Who saw this application's sensitive data unmasked, when and why."""
    return {"application_id": str(application_id),
            "items": app.disclosures(who, application_id)}


@router.get("/applications", response_model=ApplicationPage)
def list_(app: App, who: Reader, township: str | None = Query(None, pattern=r"^\d{9}$"),
          status: Status | None = None, kind: AssistanceKind | None = None,
          village: str | None = Query(None, pattern=r"^\d{12}$"),
          filed_from: date | None = None, filed_to: date | None = None,
          limit: int = Query(50, ge=1, le=500), offset: Offset = 0) -> dict[str, Any]:
    total, items = app.list_applications(
        who, township=township, status=plain(status), kind=plain(kind), village=village,
        filed_from=filed_from, filed_to=filed_to, limit=limit, offset=offset)
    return {"total": total, "limit": limit, "offset": offset, "items": items}
