"""The console's one way to the services: their HTTP APIs, with the signed-in user's token.
Masking, jurisdiction and roles are the services' answers, never decided here."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx


class Refused(Exception):
    """A service said no (4xx) or could not answer (5xx, unreachable): shown as a page with
    the service's own status and problem."""

    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        super().__init__(problem.get("detail") or problem.get("title"))
        self.status, self.problem = status, problem


@dataclass
class Answer:
    status: int
    body: Any
    content: bytes
    headers: httpx.Headers


class Services:
    def __init__(self, upstream: Callable[[str], str],
                 transport: httpx.AsyncBaseTransport | None = None,
                 timeout_s: float = 30.0) -> None:
        self.upstream, self.transport, self.timeout_s = upstream, transport, timeout_s

    async def call(self, token: str, service: str, path: str, *, method: str = "GET",
                   params: dict[str, Any] | None = None, json: Any = None,
                   accept: str = "application/json", allow: tuple[int, ...] = ()) -> Answer:
        """The service's answer; a refusal raises `Refused` unless its status is in `allow`."""
        headers = {"authorization": f"Bearer {token}", "accept": accept}
        clean = {k: v for k, v in (params or {}).items() if v not in (None, "")}
        extra: dict[str, Any] = {"transport": self.transport} if self.transport else {}
        try:
            async with httpx.AsyncClient(timeout=self.timeout_s, **extra) as client:
                r = await client.request(method, f"{self.upstream(service)}{path}",
                                         params=clean, json=json, headers=headers)
        except httpx.HTTPError as e:
            raise Refused(502, {"title": f"{service} 无法访问", "detail": repr(e)}) from None
        body: Any = None
        if "json" in r.headers.get("content-type", ""):
            try:
                body = r.json()
            except ValueError:
                body = None
        if r.status_code >= 400 and r.status_code not in allow:
            problem = body if isinstance(body, dict) else {"title": r.reason_phrase}
            raise Refused(r.status_code, problem)
        return Answer(r.status_code, body, r.content, r.headers)
