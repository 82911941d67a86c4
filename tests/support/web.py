"""Speaking to a service as its callers do: bearer tokens for a role, an HTTP client on a
runtime's ASGI app, and the problem+json every refusal is."""

from __future__ import annotations

from typing import Any

import httpx

from shared.auth import Role, TokenIssuer
from shared.runtime import ServiceRuntime

PROBLEM = "application/problem+json"
UNCHECKED: Any = ...  # assert_problem's field when a test does not say


def client(rt: ServiceRuntime) -> httpx.AsyncClient:
    """An httpx client on the runtime's ASGI app: no port, the real routes and middleware."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=rt.http),
                             base_url=f"http://{rt.settings.service}")


def user_id_of(role: Role, township: str | None = None, village: str | None = None) -> str:
    """The user a token of `bearer` names when the test names none."""
    return f"{role.value}-{township or 'county'}" + (f"-{village}" if village else "")


def bearer(issuer: TokenIssuer, role: Role, township: str | None = None,
           village: str | None = None, *, user_id: str | None = None,
           org: str | None = None) -> dict[str, str]:
    """Authorization headers for a user of `role`; one user id per role and place unless
    `user_id` names another."""
    uid = user_id or user_id_of(role, township, village)
    return {"authorization": "Bearer " + issuer.mint(uid, role, township, village, org=org)}


def assert_problem(r: httpx.Response, status: int, code: str,
                   field: str | None = UNCHECKED) -> dict[str, Any]:
    """A refusal: `status`, problem+json, the stable `code`, and the offending `field`
    (None: names none; left out: not checked)."""
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == PROBLEM, r.headers["content-type"]
    body: dict[str, Any] = r.json()
    assert body["code"] == code, body
    assert body["status"] == status, body
    if field is not UNCHECKED:
        assert body.get("field") == field, body
    return body
