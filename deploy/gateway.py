"""The local API gateway: routes /api/<service>/… to each service and passes the bearer
token through. Production uses nginx or Envoy from deploy/; this is the embedded default."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from typing import Any, Literal
from urllib.parse import quote

import httpx
import uvicorn
from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from opentelemetry.trace import SpanKind
from pydantic_settings import BaseSettings, SettingsConfigDict
from starlette.exceptions import HTTPException as StarletteHTTPException

from deploy.console import mount_console
from shared.contracts.common import SERVICES
from shared.openapi import ASSETS, GATEWAY_DOCS_TITLE, docs_page, merge
from shared.telemetry import current_headers, setup_telemetry, span
from shared.web import GatedFastAPI, problem

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade",
              "proxy-authorization", "proxy-authenticate", "host", "content-length"}


class GatewaySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GATEWAY_", extra="ignore")
    http_host: str = "127.0.0.1"
    http_port: int = 8700
    upstream_host: str = "127.0.0.1"
    intake_port: int = 8701
    review_port: int = 8702
    publicity_port: int = 8703
    disbursement_port: int = 8704
    archive_port: int = 8705
    timeout_s: float = 30.0
    # The largest body any service accepts (disbursement's bank files); each service still
    # enforces its own, smaller limit. Counted while the body streams in, never trusted.
    max_body_bytes: int = 32 * 1024 * 1024
    # Overload: requests in the gateway at once for each service (and for its own pages),
    # and how long one may wait for a place before a 503 + Retry-After. Below each service's
    # own limit (32), so what the gateway forwards the service lets in; at a service's
    # ~90 filings/s, 16 in flight is ~0.2 s of queue, and a shed answer takes ~0.3 s
    # instead of 0.5-0.8 s with 32 and 0.5 s (bench/stack_http.py, offered 100-200/s).
    max_in_flight: int = 16
    overload_wait_s: float = 0.25
    # Browser origins allowed to call the API (frontends on their own host), e.g.
    # GATEWAY_CORS_ORIGINS='["https://lingshui.example.gov.cn"]'. Empty: no cross-origin calls.
    cors_origins: list[str] = []
    # Its spans (the server span, and the hop to the service whose server span is its child)
    # go where the services' go: GATEWAY_TELEMETRY_EXPORTER=otlp, GATEWAY_OTLP_ENDPOINT.
    telemetry_exporter: Literal["none", "console", "otlp"] = "none"
    otlp_endpoint: str | None = None

    def upstream(self, service: str) -> str:
        return f"http://{self.upstream_host}:{getattr(self, f'{service}_port')}"


# Control characters (C0, DEL, C1) have no place in a path: httpx refuses to build the URL.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def forwardable(path: str) -> str:
    """The decoded path encoded again: a `#` or `?` that arrived as %23 or %3F stays part
    of the path instead of becoming the upstream URL's fragment or query (seen by
    schemathesis: a POST cut short at `#` met a GET route, 405)."""
    return quote(path, safe="/:@!$&'()*+,;=-._~")


def upstream_of(scope: dict[str, Any]) -> str:
    """The service a request goes to (`/api/<service>/…`), or the gateway's own pages."""
    parts = scope["path"].split("/", 3)
    return parts[2] if len(parts) > 3 and parts[1] == "api" and parts[2] in SERVICES \
        else "gateway"


class RefuseControlCharacters:
    """Before routing: a newline does not even match the route's path pattern. Pure ASGI
    (no BaseHTTPMiddleware task group per request)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        # (the raw scope path: request.url drops \t, \r, \n)
        if scope["type"] == "http" and _CONTROL.search(scope["path"]):
            await problem(400, "gateway.invalid_path", "the path holds a control character",
                          None, field="path")(scope, receive, send)
            return
        await self.app(scope, receive, send)


class BodyTooLarge(Exception):
    pass


async def bounded_body(request: Request, limit: int) -> bytes:
    """The request body, refused as soon as it passes `limit` bytes: the declared length is
    checked first, then the bytes are counted as they arrive (chunked bodies declare none)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.strip().isdigit() and int(declared) > limit:
        raise BodyTooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def create_gateway(settings: GatewaySettings,
                   transport: httpx.AsyncBaseTransport | None = None) -> FastAPI:
    """`transport` replaces the network to the services (tests)."""
    client: httpx.AsyncClient | None = None

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        nonlocal client
        extra: dict[str, Any] = {"transport": transport} if transport is not None else {}
        # No pool limit of its own (httpx's default, 100 connections and 20 kept alive, would
        # be a second, hidden queue behind the per-service limits, with a 30 s pool timeout):
        # the in-flight limits bound it, and each service's connections are kept alive.
        per_service = settings.max_in_flight or 32
        limits = httpx.Limits(max_connections=None,
                              max_keepalive_connections=per_service * (len(SERVICES) + 1))
        client = httpx.AsyncClient(timeout=settings.timeout_s, limits=limits, **extra)
        yield
        await client.aclose()

    app = GatedFastAPI(title="Lingshui social assistance: gateway", lifespan=lifespan,
                       docs_url=None, redoc_url=None, openapi_url=None)
    if settings.cors_origins:
        # Outermost: a preflight is answered here (200), never forwarded to a service.
        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins,
                           allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
                           allow_headers=["authorization", "content-type", "idempotency-key",
                                          "x-request-id", "traceparent", "accept"],
                           expose_headers=["x-request-id", "idempotent-replay",
                                           "content-disposition"],
                           max_age=600)

    app.add_middleware(RefuseControlCharacters)

    if settings.max_in_flight > 0:  # in front of everything: a shed request costs no span,
        # no routing, no body read, no upstream; one limit per service
        app.limit_in_flight(settings.max_in_flight, settings.overload_wait_s, upstream_of)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, e: StarletteHTTPException) -> JSONResponse:
        code = {404: "gateway.not_found", 405: "gateway.method_not_allowed"}.get(
            e.status_code, "gateway.http")
        return problem(e.status_code, code, str(e.detail), request)

    @app.get("/health")
    async def health() -> JSONResponse:
        assert client is not None

        async def ready(service: str) -> tuple[str, bool]:
            try:
                r = await client.get(f"{settings.upstream(service)}/health/ready", timeout=2)
                return service, r.status_code == 200
            except httpx.HTTPError:
                return service, False

        results = dict(await asyncio.gather(*(ready(s) for s in SERVICES)))
        ok = all(results.values())
        return JSONResponse({"ready": ok, "services": results}, status_code=200 if ok else 503)

    @app.get("/api/openapi.json", include_in_schema=False)
    async def merged_openapi(request: Request) -> Response:
        """Every service's contract as one, fetched from the services as they run."""
        assert client is not None
        async def contract(service: str) -> dict[str, Any]:
            assert client is not None
            r = await client.get(f"{settings.upstream(service)}/openapi.json",
                                 timeout=settings.timeout_s)
            r.raise_for_status()
            spec: dict[str, Any] = r.json()
            return spec

        results = await asyncio.gather(*(contract(s) for s in SERVICES),
                                       return_exceptions=True)
        specs: dict[str, Any] = {}
        for service, result in zip(SERVICES, results, strict=True):
            if isinstance(result, BaseException):
                return problem(502, "gateway.upstream_unavailable",
                               f"{service}'s contract: {result!r}", request)
            specs[service] = result
        return JSONResponse(merge(specs))

    @app.get("/api/docs", include_in_schema=False)
    async def docs() -> Response:
        return docs_page(GATEWAY_DOCS_TITLE)

    app.mount("/api/docs/assets", StaticFiles(directory=ASSETS), name="docs-assets")

    @app.api_route("/api/{service}/{path:path}",
                   methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    async def route(service: str, path: str, request: Request) -> Response:
        assert client is not None
        if service not in SERVICES:
            return problem(404, "gateway.unknown_service", f"no service {service!r}", request)
        declared = request.headers.get("content-length")
        if declared is not None and not declared.strip().isdigit():
            return problem(400, "gateway.invalid_content_length",
                           "Content-Length is not a number", request, field="Content-Length")
        try:
            body = await bounded_body(request, settings.max_body_bytes)
        except BodyTooLarge:
            return problem(413, "gateway.body_too_large",
                           f"request body exceeds {settings.max_body_bytes} bytes", request)
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
        # Services behind the gateway see the client, not the gateway (rate limits per client).
        client_ip = request.client.host if request.client else "unknown"
        prior = request.headers.get("x-forwarded-for")
        headers["x-forwarded-for"] = f"{prior}, {client_ip}" if prior else client_ip
        headers["x-forwarded-prefix"] = f"/api/{service}"  # the docs' server URL
        # One trace: the forwarded request carries the gateway's own span (a client span in
        # the gateway's server span) as `traceparent`, so the service's server span is its
        # child; the client's traceparent, if any, is the gateway's parent, not the service's.
        for name in ("traceparent", "tracestate"):
            headers.pop(name, None)
        try:
            with span(f"forward {service}", kind=SpanKind.CLIENT, service=service) as hop:
                headers.update(current_headers())
                upstream = await client.request(
                    request.method, f"{settings.upstream(service)}/{forwardable(path)}",
                    params=request.query_params, content=body, headers=headers)
                hop.set_attribute("http.response.status_code", upstream.status_code)
        except httpx.InvalidURL:
            return problem(400, "gateway.invalid_url", "the request URL cannot be forwarded",
                           request, field="path")
        except httpx.HTTPError as e:
            return problem(502, "gateway.upstream_unavailable", f"{service}: {e!r}", request)
        # httpx has already decoded the body, so its encoding header no longer applies.
        out = {k: v for k, v in upstream.headers.items()
               if k.lower() not in HOP_BY_HOP | {"content-encoding"}}
        return Response(upstream.content, status_code=upstream.status_code, headers=out)

    # The audit console (deploy/console): an ordinary client of the services' APIs.
    mount_console(app, lambda service: settings.upstream(service), transport)
    return app


def main() -> None:
    settings = GatewaySettings()
    setup_telemetry("gateway", settings.telemetry_exporter, settings.otlp_endpoint)
    uvicorn.run(create_gateway(settings), host=settings.http_host, port=settings.http_port,
                log_level="warning")


if __name__ == "__main__":
    main()
