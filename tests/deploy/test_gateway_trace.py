"""One trace through the embedded gateway (deploy/gateway.py): the service's server span is
the child of the gateway's span that forwards the request (a client span within the
gateway's server span), whether or not the client sent a `traceparent` (issue 20: they were
siblings, both children of the client's span, or two traces)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.trace import SpanKind

from deploy.gateway import GatewaySettings, create_gateway
from tests.support.gateway import ToServices
from tests.support.stack import build_service

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
CLIENT_SPAN = "00f067aa0ba902b7"


@pytest.fixture
async def gateway(tmp_path: Path, keys_dir: Path,
                  span_exporter: Any) -> AsyncIterator[httpx.AsyncClient]:
    # The intake service's HTTP app, not started: its health answers without the bus.
    intake = build_service("intake", tmp=tmp_path, keys_dir=keys_dir,
                           nats_url="nats://127.0.0.1:1", database_url=None)
    settings = GatewaySettings()
    app = create_gateway(settings, transport=ToServices(settings, {"intake": intake.http}))
    async with contextlib.AsyncExitStack() as stack:
        await stack.enter_async_context(app.router.lifespan_context(app))
        yield await stack.enter_async_context(httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://gateway"))


def server_spans(exporter: Any) -> tuple[Any, Any, dict[int, Any]]:
    """(the gateway's server span, the service's, every span by id) of the one request."""
    spans = list(exporter.get_finished_spans())
    servers = [s for s in spans if s.kind == SpanKind.SERVER]
    gateway = [s for s in servers if s.name.startswith("GET /api/{service}")]
    service = [s for s in servers if s.name == "GET /health/live"]
    assert len(gateway) == len(service) == 1, [s.name for s in servers]
    return gateway[0], service[0], {s.context.span_id: s for s in spans}


def ancestors(span: Any, by_id: dict[int, Any]) -> list[Any]:
    out = []
    while span.parent is not None and span.parent.span_id in by_id:
        span = by_id[span.parent.span_id]
        out.append(span)
    return out


@pytest.mark.parametrize("client_sends", [True, False], ids=["traceparent", "no-header"])
async def test_the_services_server_span_is_the_gateways_child(
        gateway: httpx.AsyncClient, span_exporter: Any, client_sends: bool) -> None:
    span_exporter.clear()
    headers = {"traceparent": f"00-{TRACE_ID}-{CLIENT_SPAN}-01"} if client_sends else {}
    r = await gateway.get("/api/intake/health/live", headers=headers)
    assert r.status_code == 200, r.text
    outer, inner, by_id = server_spans(span_exporter)
    assert inner.context.trace_id == outer.context.trace_id
    # Its parent is the gateway's hop to it (a client span), inside the gateway's request.
    up = ancestors(inner, by_id)
    assert (up[0].name, up[0].kind) == ("forward intake", SpanKind.CLIENT)
    assert up[0].attributes["http.response.status_code"] == 200
    assert up[-1] is outer and outer.kind == SpanKind.SERVER
    if client_sends:  # the gateway continues the client's trace
        assert format(outer.context.trace_id, "032x") == TRACE_ID
        assert format(outer.parent.span_id, "016x") == CLIENT_SPAN
    else:
        assert outer.parent is None  # one trace, started by the gateway
