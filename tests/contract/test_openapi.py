"""One documented contract: the merged spec at the gateway validates, every operation is
documented (a later endpoint that is not fails here, by name), the docs pages work offline
with the right server prefix, CORS is an allow-list, and the shape is versioned."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from openapi_spec_validator import validate

from deploy.openapi import SNAPSHOT, merged_spec
from shared.contracts.common import SERVICES
from shared.openapi import API_VERSION, FILE_TYPES, PROBLEM, gaps, operations, shape
from tests.support.launcher import FRONTEND, Stack

pytestmark = [pytest.mark.nats, pytest.mark.slow]

REFRESH = ("bump API_VERSION in shared/openapi.py (the shape of the contract changed: "
           "clients must know), then refresh the snapshot: .venv/bin/python -m deploy.openapi")

# Operations not yet fully documented, each with what it lacks. This list may only shrink:
# a new endpoint is not allowed onto it (the test names what it misses), and an entry that
# has been completed must be removed.
KNOWN_GAPS: set[str] = set(json.loads((SNAPSHOT.parent / "openapi-gaps.json").read_text())
                           if (SNAPSHOT.parent / "openapi-gaps.json").exists() else [])


@pytest.fixture(scope="module")
def spec(stack: Stack) -> dict[str, Any]:
    r = httpx.get(f"{stack.url}/api/openapi.json", timeout=60)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def test_the_merged_spec_validates_and_holds_every_service(spec: dict[str, Any]) -> None:
    validate(spec)
    assert spec["info"]["version"] == API_VERSION
    prefixes = {path.split("/")[2] for path in spec["paths"]}
    assert prefixes == set(SERVICES)
    assert spec["components"]["schemas"]["Problem"]["required"][:3] == ["type", "title",
                                                                          "status"]
    assert spec["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"


def test_every_operation_is_documented(spec: dict[str, Any]) -> None:
    found = set(gaps(spec))
    new = sorted(found - KNOWN_GAPS)
    assert not new, "operations missing parts of the contract:\n" + "\n".join(new)
    done = sorted(KNOWN_GAPS - found)
    assert not done, ("completed, remove from docs/openapi-gaps.json:\n" + "\n".join(done))


def test_posts_declare_idempotency_and_errors_are_problems(spec: dict[str, Any]) -> None:
    for method, path, op in operations(spec):
        if method == "POST":
            assert any(p["name"] == "Idempotency-Key" for p in op["parameters"]), path
        if op["security"]:
            assert op["x-roles"] and {"401", "403"} <= set(op["responses"]), path
            assert "**Roles" in op["description"], path
        for status, response in op["responses"].items():
            if status.startswith("4"):
                assert list(response["content"]) == [PROBLEM], (method, path, status)


def test_file_downloads_are_typed(spec: dict[str, Any]) -> None:
    typed = {(m, p): media for m, p, op in operations(spec)
             for s, r in op["responses"].items() if s.startswith("2")
             for media in r.get("content", {}) if media in FILE_TYPES.values()}
    assert typed[("GET", "/api/archive/supervision/statistics.xlsx")] == FILE_TYPES["xlsx"]
    assert ("GET", "/api/disbursement/statistics/{township}/{month}/documents/{fmt}") in typed


def test_the_contract_shape_is_versioned(spec: dict[str, Any]) -> None:
    """The committed snapshot (docs/openapi.json) is what clients were built against: a
    change of shape without a version bump fails here, and says how to refresh."""
    snapshot = json.loads(SNAPSHOT.read_text(encoding="utf-8"))
    if shape(spec) != shape(snapshot):
        if spec["info"]["version"] == snapshot["info"]["version"]:
            pytest.fail(f"the API changed shape at version {API_VERSION}: {REFRESH}")
        pytest.fail(f"version bumped to {API_VERSION}; refresh the snapshot: "
                    ".venv/bin/python -m deploy.openapi")
    assert spec["info"]["version"] == snapshot["info"]["version"], REFRESH


def test_the_offline_build_is_what_the_gateway_serves(spec: dict[str, Any]) -> None:
    assert shape(merged_spec()) == shape(spec)


def test_docs_pages_work_offline_with_the_right_prefix(stack: Stack) -> None:
    for page, spec_url in [("/api/docs", "/api/openapi.json"),
                           *((f"/api/{s}/docs", f"/api/{s}/openapi.json") for s in SERVICES)]:
        r = httpx.get(stack.url + page)
        assert r.status_code == 200 and "text/html" in r.headers["content-type"], page
        assert "http" not in r.text.split("<body>")[1], "no asset from another host"
        base = page.rsplit("/", 1)[0]
        for asset in ("docs/assets/swagger-ui-bundle.js", "docs/assets/swagger-ui.css"):
            a = httpx.get(f"{stack.url}{base}/{asset}")
            assert a.status_code == 200 and len(a.content) > 10_000, (page, asset)
        s = httpx.get(stack.url + spec_url, timeout=60).json()
        if page != "/api/docs":
            assert s["servers"] == [{"url": base}], page
            some = next(iter(s["paths"]))
            merged = httpx.get(f"{stack.url}/api/openapi.json", timeout=60).json()
            assert f"{base}{some}" in merged["paths"]


def test_cors_is_an_allow_list(stack: Stack) -> None:
    preflight = {"access-control-request-method": "POST",
                 "access-control-request-headers": "authorization,content-type,idempotency-key"}
    r = httpx.options(f"{stack.url}/api/intake/applications",
                      headers={"origin": FRONTEND, **preflight})
    assert r.status_code in (200, 204), r.text
    assert r.headers["access-control-allow-origin"] == FRONTEND
    assert "idempotency-key" in r.headers["access-control-allow-headers"].lower()
    r = httpx.options(f"{stack.url}/api/intake/applications",
                      headers={"origin": "https://elsewhere.example", **preflight})
    assert r.status_code == 400 and "access-control-allow-origin" not in r.headers
    r = httpx.get(f"{stack.url}/api/intake/health/live", headers={"origin": FRONTEND})
    assert r.headers["access-control-allow-origin"] == FRONTEND
