"""The local API gateway: routes /api/<service>/… to each service and passes the bearer
token through. Production uses nginx or Envoy from deploy/; this is the embedded default."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import httpx
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from pydantic_settings import BaseSettings, SettingsConfigDict

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

    def upstream(self, service: str) -> str:
        return f"http://{self.upstream_host}:{getattr(self, f'{service}_port')}"


def create_gateway(settings: GatewaySettings) -> FastAPI:
    client: httpx.AsyncClient | None = None

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        nonlocal client
        client = httpx.AsyncClient(timeout=settings.timeout_s)
        yield
        await client.aclose()

    app = FastAPI(title="Lingshui social assistance: gateway", lifespan=lifespan)

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
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
        # Services behind the gateway see the client, not the gateway (rate limits per client).
        client_ip = request.client.host if request.client else "unknown"
        prior = request.headers.get("x-forwarded-for")
        headers["x-forwarded-for"] = f"{prior}, {client_ip}" if prior else client_ip
        try:
            upstream = await client.request(
                request.method, f"{settings.upstream(service)}/{path}",
                params=request.query_params, content=await request.body(), headers=headers)
        except httpx.HTTPError as e:
            return problem(502, "gateway.upstream_unavailable", f"{service}: {e!r}", request)
        # httpx has already decoded the body, so its encoding header no longer applies.
        out = {k: v for k, v in upstream.headers.items()
               if k.lower() not in HOP_BY_HOP | {"content-encoding"}}
        return Response(upstream.content, status_code=upstream.status_code, headers=out)

    return app


def main() -> None:
    settings = GatewaySettings()
    uvicorn.run(create_gateway(settings), host=settings.http_host, port=settings.http_port,
                log_level="warning")


if __name__ == "__main__":
    main()
