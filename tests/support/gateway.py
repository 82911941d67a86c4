"""The embedded gateway in a test: its upstreams are the services' ASGI apps, no ports."""

from __future__ import annotations

from typing import Any

import httpx

from deploy.gateway import GatewaySettings


class ToServices(httpx.AsyncBaseTransport):
    """The gateway's network: each upstream port to that service's ASGI app; counts calls."""

    def __init__(self, settings: GatewaySettings, apps: dict[str, Any]) -> None:
        self.by_port = {getattr(settings, f"{s}_port"): httpx.ASGITransport(app=a)
                        for s, a in apps.items()}
        self.calls = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        return await self.by_port[request.url.port].handle_async_request(request)
