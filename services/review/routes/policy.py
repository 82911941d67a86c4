"""The county's policy table (政策标准): the version in force, every version, publishing."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from services.review.routes import App, Bureau, Staff, command
from services.review.schemas import (
    PolicyIn,
    PolicyInForce,
    PolicyPublished,
    PolicyVersions,
    plain,
)

router = APIRouter(tags=["policy"])


@router.get("/policy", response_model=PolicyInForce)
def policy(app: App, who: Staff, on: date | None = None) -> dict[str, Any]:
    day = on or app.today()
    version, terms = app.policy_on(day)
    return plain({"on": day, "policy_version": version, "terms": terms.to_dict()})


@router.get("/policy/versions", response_model=PolicyVersions)
def policy_versions(app: App, who: Staff) -> dict[str, Any]:
    return plain({"versions": app.policy_versions()})


@router.post("/policy", response_model=PolicyPublished, status_code=201)
def publish_policy(body: PolicyIn, request: Request, app: App, who: Bureau) -> Response:
    def run() -> dict[str, Any]:
        version = app.publish_policy(who, body.effective_from,
                                     body.terms.model_dump(mode="python"), body.reason)
        return {"policy_version": version, "effective_from": body.effective_from.isoformat()}
    return command(app, request, who, body, run, 201)
