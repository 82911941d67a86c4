"""One FastAPI app factory for every service: problem+json, idempotent commands,
health and readiness, request ids, body limits; the server span of each request is
FastAPI's built-in one."""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from eventsourcing.persistence import IntegrityError
from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from opentelemetry import trace
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from starlette.exceptions import HTTPException as StarletteHTTPException

from shared.auth import Principal, TokenVerifier
from shared.errors import Conflict, DomainError
from shared.eventstore import ServiceApplication
from shared.logs import access
from shared.openapi import describe, serve_docs

PROBLEM = "application/problem+json"

# Where a list may start: bounded, so a 2**64 offset is a 422 naming the field, never an
# integer overflow in the database (SQLite and PostgreSQL take at most 64 bits).
MAX_OFFSET = 10_000_000
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="rows to skip")]


def problem(status: int, code: str, detail: str, request: Request | None = None,
            **extra: Any) -> JSONResponse:
    body: dict[str, Any] = {"type": f"urn:lingshui:problem:{code}", "title": code,
                            "status": status, "code": code, "detail": detail}
    if request is not None:
        body["instance"] = request.url.path
        body["request_id"] = getattr(request.state, "request_id", None)
    body.update({k: v for k, v in extra.items() if v is not None})
    return JSONResponse(body, status_code=status, media_type=PROBLEM)


def _field(loc: tuple[Any, ...]) -> str:
    parts = [p for p in loc if p not in ("body", "query", "path", "header")]
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or ".".join(map(str, loc))


class Page(BaseModel):
    """One page of a list: `items` from `offset`, `limit` at most, of `total`."""

    model_config = ConfigDict(extra="allow")
    total: int = Field(examples=[124])
    limit: int = Field(examples=[50])
    offset: int = Field(examples=[0])
    items: list[dict[str, Any]]


class Backlog(BaseModel):
    """Is this service caught up: the relay's unpublished events, each consumer's lag."""

    service: str = Field(examples=["review"])
    caught_up: bool
    relay: dict[str, Any] | None
    consumers: dict[str, dict[str, Any]]


class DeadLetter(BaseModel):
    """An integration event a consumer gave up on, as the dead-letter stream holds it."""

    seq: int = Field(examples=[7])
    subject: str = Field(examples=["sa.469028.deadletter.archive.review"])
    headers: dict[str, str]
    data: str  # the message as received (UTF-8, undecodable bytes replaced)


class Liveness(BaseModel):
    status: str = Field(examples=["alive"])
    service: str = Field(examples=["intake"])


class Readiness(BaseModel):
    service: str = Field(examples=["intake"])
    ready: bool
    checks: dict[str, str] = Field(examples=[{"store": "ok", "nats": "ok", "relay": "ok"}])


ReadinessCheck = Callable[[], Awaitable[None]]


def create_app(service: str, verifier: TokenVerifier, *, max_body_bytes: int = 1_048_576,
               readiness: dict[str, ReadinessCheck] | None = None,
               lifespan: Any = None, max_in_flight: int = 0,
               overload_wait_s: float = 0.5) -> FastAPI:
    # The contract and its docs come from shared.openapi, with relative URLs (behind a prefix).
    app = GatedFastAPI(title=f"Lingshui social assistance: {service}", lifespan=lifespan,
                       docs_url=None, redoc_url=None, openapi_url=None)

    def contract() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = describe(app, service)
        return app.openapi_schema

    app.openapi = contract  # type: ignore[method-assign]
    serve_docs(app, service)
    app.state.verifier = verifier
    checks = dict(readiness or {})

    app.add_middleware(RequestEnvelope, service=service)
    # Outermost middleware, so an oversized body is refused before anything parses it.
    app.add_middleware(BodyLimit, max_bytes=max_body_bytes)
    if max_in_flight > 0:  # in front of all of it: a shed request's body is not even read
        app.limit_in_flight(max_in_flight, overload_wait_s)

    @app.exception_handler(DomainError)
    async def domain_error(request: Request, e: DomainError) -> JSONResponse:
        return problem(e.status, e.code, e.message, request, field=e.field)

    @app.exception_handler(IntegrityError)
    async def version_conflict(request: Request, e: IntegrityError) -> JSONResponse:
        return problem(409, "web.version_conflict",
                       "the record changed concurrently; reload and retry", request)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, e: RequestValidationError) -> JSONResponse:
        errors = [{"field": _field(tuple(err["loc"])), "rule": err["type"],
                   "message": err["msg"]} for err in e.errors()]
        if any(err["rule"] == "json_invalid" for err in errors):
            return problem(400, "web.malformed_json", "the body is not valid JSON", request,
                           errors=errors)
        first = errors[0] if errors else {"field": None, "rule": "invalid"}
        return problem(422, "web.validation",
                       f"{first['field']}: {first['rule']}", request, field=first["field"],
                       errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, e: StarletteHTTPException) -> JSONResponse:
        code = {404: "web.not_found", 405: "web.method_not_allowed"}.get(e.status_code, "web.http")
        return problem(e.status_code, code, str(e.detail), request)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, e: Exception) -> JSONResponse:
        # A bug, never the caller's fault: still problem+json with the request id to quote,
        # and the error (logged by the server) is not echoed to the caller.
        return problem(500, "web.internal", "internal error; quote the request_id", request)

    @app.get("/health/live", tags=["health"], response_model=Liveness)
    async def live() -> dict[str, str]:
        return {"status": "alive", "service": service}

    @app.get("/health/ready", tags=["health"], response_model=Readiness,
             responses={503: {"model": Readiness, "description": "a dependency is failing"}})
    async def ready() -> JSONResponse:
        results: dict[str, str] = {}
        for name, check in checks.items():
            try:
                await check()
                results[name] = "ok"
            except Exception as e:  # readiness reports, never raises
                results[name] = f"failing: {e}"
        ok = all(v == "ok" for v in results.values())
        return JSONResponse({"service": service, "ready": ok, "checks": results},
                            status_code=200 if ok else 503)

    return app


class RequestEnvelope:
    """Each request's id (the caller's `x-request-id` or a new one, echoed on the answer),
    the service's name on FastAPI's server span, and one access line. Pure ASGI: Starlette's
    BaseHTTPMiddleware ran every request through a task group and memory streams."""

    def __init__(self, app: Any, service: str) -> None:
        self.app, self.service = app, service

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = next((v.decode("latin-1") for k, v in scope["headers"]
                           if k == b"x-request-id"), None) or uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        # The server span is FastAPI's own (built in since 0.165, named by the route
        # template, parent taken from `traceparent`): the one span of this request, which
        # only gains the service's name here. A second span of ours would double it.
        trace.get_current_span().set_attribute("service", self.service)
        started = time.perf_counter()
        header = (b"x-request-id", request_id.encode("latin-1"))

        async def send_with_id(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*(h for h in message.get("headers", ())
                                        if h[0].lower() != b"x-request-id"), header]
                access(scope["method"], scope, message["status"],
                       time.perf_counter() - started)
            await send(message)

        await self.app(scope, receive, send_with_id)


class InFlightLimit:
    """At most `limit` requests inside at once (per partition: the gateway keeps one limit
    per upstream service, so one overloaded service does not shed the others' requests).
    Beyond capacity a request waits at most `wait_s` for a place, then gets 503 with
    `Retry-After` at once, instead of queueing behind hundreds of others until every one of
    them times out. Health probes are never shed (an overloaded service is alive, and
    readiness says what fails)."""

    def __init__(self, app: Any, limit: int, wait_s: float, retry_after_s: int = 1,
                 partition: Callable[[dict[str, Any]], str] | None = None) -> None:
        self.app, self.limit, self.wait_s = app, limit, wait_s
        self.retry_after = str(retry_after_s)
        self.partition = partition
        self.places: dict[str, asyncio.Semaphore] = {}
        self.shed = 0

    def _places(self, scope: dict[str, Any]) -> asyncio.Semaphore:
        key = self.partition(scope) if self.partition is not None else ""
        places = self.places.get(key)
        if places is None:
            places = self.places[key] = asyncio.Semaphore(self.limit)
        return places

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/health"):
            await self.app(scope, receive, send)
            return
        places = self._places(scope)
        try:
            if places.locked():  # only a request that must wait pays for a timer
                async with asyncio.timeout(self.wait_s):
                    await places.acquire()
            else:
                await places.acquire()
        except TimeoutError:
            self.shed += 1
            response = problem(503, "web.overloaded",
                               f"more than {self.limit} requests in progress; retry shortly",
                               Request(scope))
            response.headers["retry-after"] = self.retry_after
            await response(scope, receive, send)
            return
        try:
            await self.app(scope, receive, send)
        finally:
            places.release()


class GatedFastAPI(FastAPI):
    """FastAPI with its overload limit in front of everything, FastAPI's own server span,
    error handling and middleware included: a shed request costs no span, no middleware
    and no body read, so a flood is answered as fast as it arrives."""

    gate: InFlightLimit | None = None

    def limit_in_flight(self, limit: int, wait_s: float,
                        partition: Callable[[dict[str, Any]], str] | None = None) -> None:
        self.gate = InFlightLimit(super().__call__, limit, wait_s, partition=partition)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if self.gate is None or scope["type"] != "http":
            await super().__call__(scope, receive, send)
        else:
            await self.gate(scope, receive, send)


class BodyLimit:
    """Refuse a request body over `max_bytes` with 413, whether it declares its length or
    arrives chunked: the body is counted as it is received, never trusted from a header."""

    def __init__(self, app: Any, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length", b"")
        too_large = declared.isdigit() and int(declared) > self.max_bytes
        chunks: list[bytes] = []
        if not too_large and scope["method"] in ("POST", "PUT", "PATCH"):
            size, more = 0, True
            while more:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return
                chunks.append(message.get("body", b""))
                size += len(chunks[-1])
                more = message.get("more_body", False)
                if size > self.max_bytes:
                    too_large = True
                    break
        if too_large:
            request = Request(scope)
            await problem(413, "web.body_too_large",
                          f"request body exceeds {self.max_bytes} bytes", request)(
                scope, receive, send)
            return
        if not chunks:
            await self.app(scope, receive, send)
            return
        body, delivered = b"".join(chunks), False

        async def replay() -> dict[str, Any]:
            nonlocal delivered
            if delivered:
                return await receive()
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


async def service_application(request: Request) -> Any:
    """The service's one writer, for module-level routes: each service declares
    `App = Annotated[XApplication, Depends(service_application)]` and its handlers take
    `app: App`, so a test can swap it with `dependency_overrides`. async: no thread-pool
    round trip to read an attribute."""
    return request.app.state.application


def request_fingerprint(method: str, path: str, body: BaseModel | dict[str, Any] | None) -> str:
    payload = body.model_dump(mode="json") if isinstance(body, BaseModel) else (body or {})
    raw = json.dumps([method, path, payload], sort_keys=True, ensure_ascii=False).encode()
    return hashlib.sha256(raw).hexdigest()


def run_command(app: ServiceApplication, request: Request, principal: Principal,
                body: BaseModel | dict[str, Any] | None,
                command: Callable[[], BaseModel | dict[str, Any]],
                status_code: int = 201,
                replay_redact: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
                ) -> Response:
    """Run a command in one transaction with its idempotency record.

    With an `Idempotency-Key`, a retry returns the first answer and writes nothing; the
    same key with a different body is a 409. Without one, the command simply runs.
    `replay_redact` shapes what is kept for replays, for an answer holding a secret that
    is shown once and never stored (a receipt's code).
    Call from a sync endpoint (FastAPI runs it in the thread pool).
    """
    key = request.headers.get("idempotency-key")
    if key is not None and not (0 < len(key) <= 128):
        raise DomainError("web.idempotency_key", "Idempotency-Key must be 1-128 characters",
                          field="Idempotency-Key")
    fingerprint = request_fingerprint(request.method, request.url.path, body)
    t = app.kernel.idempotency

    def stored(s: Any) -> Response | None:
        row = s.execute(select(t.c.request_hash, t.c.status_code, t.c.body).where(
            t.c.subject == principal.user_id, t.c.key == key)).first()
        if row is None:
            return None
        if row.request_hash != fingerprint:
            raise Conflict("web.idempotency_key_reused",
                           "this Idempotency-Key was used for a different request",
                           field="Idempotency-Key")
        return Response(row.body, status_code=row.status_code, media_type="application/json",
                        headers={"idempotent-replay": "true"})

    try:
        with app.unit_of_work() as s:
            if key is not None and (previous := stored(s)) is not None:
                return previous
            result = command()
            data = result.model_dump(mode="json") if isinstance(result, BaseModel) else result
            raw = json.dumps(data, ensure_ascii=False).encode()
            if key is not None:
                kept = raw if replay_redact is None else json.dumps(
                    replay_redact(data), ensure_ascii=False).encode()
                s.execute(t.insert().values(subject=principal.user_id, key=key,
                                            request_hash=fingerprint, status_code=status_code,
                                            body=kept))
    except IntegrityError:
        # A concurrent retry with the same key won the race: its answer is the answer.
        if key is not None:
            with app.read_session() as s:
                if (previous := stored(s)) is not None:
                    return previous
        raise
    return Response(raw, status_code=status_code, media_type="application/json")
