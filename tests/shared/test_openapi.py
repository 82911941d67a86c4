"""shared/openapi.py without a stack: roles read from require(), derived error codes, the
merge's naming, the shape that ignores prose, and the 500 that is still problem+json."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import Depends
from pydantic import BaseModel

from shared.auth import Principal, Role, TokenVerifier, ensure_dev_keypair, require
from shared.openapi import PROBLEM, gaps, merge, shape
from shared.web import create_app

pytestmark = pytest.mark.fast


class Thing(BaseModel):
    name: str


def app_with_routes(tmp_path: Path) -> Any:
    _, public = ensure_dev_keypair(tmp_path)
    app = create_app("intake", TokenVerifier(issuer="i", audience="a", public_key_file=public))
    clerk = require(Role.TOWNSHIP_CLERK, Role.VILLAGE_ASSISTANT)

    @app.post("/things/{thing_id}", response_model=Thing, status_code=201)
    def make(thing_id: int, body: Thing, who: Principal = Depends(clerk)) -> Thing:
        return body

    @app.get("/boom")
    def boom() -> dict[str, str]:
        raise ValueError("a secret the caller must not see")

    return app


def test_an_operation_documents_its_roles_idempotency_and_problems(tmp_path: Path) -> None:
    op = app_with_routes(tmp_path).openapi()["paths"]["/things/{thing_id}"]["post"]
    assert op["x-roles"] == ["township_clerk", "village_assistant"]
    assert op["security"] == [{"bearer": []}]
    assert "`township_clerk`" in op["description"]
    assert any(p["name"] == "Idempotency-Key" for p in op["parameters"])
    assert {"400", "401", "403", "404", "409", "413", "422"} <= set(op["responses"])
    assert list(op["responses"]["422"]["content"]) == [PROBLEM]
    assert op["responses"]["201"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Thing"}


def test_an_undocumented_operation_is_named_with_what_it_lacks(tmp_path: Path) -> None:
    spec = merge({"intake": app_with_routes(tmp_path).openapi()})
    missing = [g for g in gaps(spec) if g.startswith("POST /api/intake/things/")]
    assert missing == ["POST /api/intake/things/{thing_id}: missing bilingual summary "
                       "(zh/en in shared/data/api/<service>.yaml), description, example"]


def test_merge_prefixes_paths_and_keeps_apart_schemas_that_differ() -> None:
    def spec(props: dict[str, Any]) -> dict[str, Any]:
        return {"paths": {"/x": {"get": {"tags": ["t"], "operationId": "x", "responses": {
            "200": {"content": {"application/json": {"schema": {
                "$ref": "#/components/schemas/Created"}}}}}}}},
            "components": {"schemas": {"Created": {"type": "object", "properties": props},
                                       "Same": {"type": "string"}}}}

    merged = merge({"intake": spec({"a": {}}), "review": spec({"b": {}})})
    schemas = merged["components"]["schemas"]
    assert {"IntakeCreated", "ReviewCreated", "Same"} <= set(schemas) and "Created" not in schemas
    ok = merged["paths"]["/api/review/x"]["get"]["responses"]["200"]
    assert ok["content"]["application/json"]["schema"]["$ref"].endswith("/ReviewCreated")
    assert merged["paths"]["/api/intake/x"]["get"]["operationId"] == "intake_x"


def test_shape_ignores_prose_but_not_structure() -> None:
    base = {"info": {"version": "1"}, "paths": {"/a": {"get": {
        "summary": "甲 / A", "responses": {"200": {"description": "ok"}}}}}}
    reworded = {"info": {"version": "1"}, "paths": {"/a": {"get": {
        "summary": "乙 / B", "responses": {"200": {"description": "fine"}}}}}}
    changed = {"info": {"version": "1"}, "paths": {"/a": {"get": {
        "summary": "甲 / A", "responses": {"201": {"description": "ok"}}}}}}
    assert shape(base) == shape(reworded)
    assert shape(base) != shape(changed)


async def test_an_unexpected_error_is_a_problem_without_the_detail(tmp_path: Path) -> None:
    transport = httpx.ASGITransport(app=app_with_routes(tmp_path), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://intake") as c:
        r = await c.get("/boom")
    assert r.status_code == 500 and r.headers["content-type"] == PROBLEM
    assert r.json()["code"] == "web.internal" and "secret" not in r.text
