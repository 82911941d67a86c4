"""Intake's HTTP API: request/response schemas and routing only."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from services.intake.application import IntakeApplication
from shared.auth import Principal, Role, require
from shared.contracts.common import AssistanceKind
from shared.pii import mask_resident_id
from shared.web import run_command

Text = Field(min_length=1, max_length=64)


class Relation(StrEnum):
    SELF = "self"
    SPOUSE = "spouse"
    CHILD = "child"
    PARENT = "parent"
    GRANDCHILD = "grandchild"
    GRANDPARENT = "grandparent"
    SIBLING = "sibling"
    OTHER = "other"


class MemberIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    name: str = Text
    resident_id: str = Field(min_length=18, max_length=18)
    relation: Relation
    birth_date: date


class SubmitApplication(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    kind: AssistanceKind
    township: str = Field(pattern=r"^\d{9}$")
    village: str = Field(pattern=r"^\d{12}$")
    members: list[MemberIn] = Field(min_length=1, max_length=30)
    filed_by: Literal["applicant", "village_committee", "entrusted_person"]
    close_relative_declared: bool = False


class Created(BaseModel):
    application_id: UUID
    status: str


def router(app: IntakeApplication) -> APIRouter:
    r = APIRouter(tags=["applications"])
    filers = require(Role.VILLAGE_ASSISTANT, Role.TOWNSHIP_CLERK)
    readers = require(Role.VILLAGE_ASSISTANT, Role.TOWNSHIP_CLERK, Role.TOWNSHIP_REVIEWER,
                      Role.TOWNSHIP_LEADER, Role.COUNTY_CENTRE, Role.COUNTY_BUREAU,
                      Role.DISCIPLINE_INSPECTOR)

    @r.post("/applications", status_code=201, response_model=Created)
    def submit(body: SubmitApplication, request: Request,
               who: Principal = Depends(filers)) -> Response:
        def command() -> Created:
            application_id = app.submit(
                who, kind=body.kind, township=body.township, village=body.village,
                members=[m.model_dump() for m in body.members], filed_by=body.filed_by,
                close_relative_declared=body.close_relative_declared)
            return Created(application_id=application_id, status="submitted")
        return run_command(app, request, who, body, command)

    @r.post("/applications/{application_id}/accept", response_model=Created)
    def accept(application_id: UUID, request: Request,
               who: Principal = Depends(require(Role.TOWNSHIP_CLERK))) -> Response:
        def command() -> Created:
            a = app.accept(who, application_id)
            return Created(application_id=a.id, status=a.status)
        return run_command(app, request, who, None, command, status_code=200)

    @r.get("/applications/{application_id}")
    def read(application_id: UUID, who: Principal = Depends(readers)) -> dict[str, Any]:
        a = app.application(who, application_id)
        return {
            "application_id": str(a.id), "version": a.version, "kind": a.kind,
            "township": a.township, "village": a.village, "status": a.status,
            "filed_by": a.filed_by, "close_relative_declared": a.close_relative_declared,
            "accepted_on": a.accepted_on,
            "members": [{**m, "resident_id": mask_resident_id(m["resident_id"])}
                        for m in a.members],
        }

    @r.get("/applications")
    def list_(township: str = Query(pattern=r"^\d{9}$"), status: str | None = None,
              limit: int = Query(50, ge=1, le=500), offset: int = Query(0, ge=0),
              who: Principal = Depends(readers)) -> dict[str, Any]:
        total, items = app.list_applications(who, township, status, limit, offset)
        return {"total": total, "limit": limit, "offset": offset, "items": items}

    return r
