"""The local API gateway: routes /api/<service>/… to each service and passes the bearer
token through. Production uses nginx or Envoy from deploy/; this is the embedded default."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from pydantic_settings import BaseSettings, SettingsConfigDict
from starlette.exceptions import HTTPException as StarletteHTTPException

from deploy.console import mount_console
from shared.contracts.common import SERVICES
from shared.web import problem

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

    def upstream(self, service: str) -> str:
        return f"http://{self.upstream_host}:{getattr(self, f'{service}_port')}"


# Control characters (C0, DEL, C1) have no place in a path: httpx refuses to build the URL.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


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
        client = httpx.AsyncClient(timeout=settings.timeout_s, **extra)
        yield
        await client.aclose()

    app = FastAPI(title="Lingshui social assistance: gateway", lifespan=lifespan)

    @app.middleware("http")
    async def refuse_control_characters(request: Request, call_next: Any) -> Response:
        # Before routing: a newline does not even match the route's path pattern.
        if _CONTROL.search(request.scope["path"]):  # request.url drops \t, \r, \n
            return problem(400, "gateway.invalid_path", "the path holds a control character",
                           None, field="path")
        response: Response = await call_next(request)
        return response

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
        try:
            upstream = await client.request(
                request.method, f"{settings.upstream(service)}/{path}",
                params=request.query_params, content=body, headers=headers)
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
    uvicorn.run(create_gateway(settings), host=settings.http_host, port=settings.http_port,
                log_level="warning")


if __name__ == "__main__":
    main()
