"""One server span per request, with FastAPI's built-in tracing and the project's own kept
from doubling up; a request without a trace header starts one trace, not two."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.trace import SpanKind

from shared.auth import TokenVerifier, ensure_dev_keypair
from shared.web import create_app

pytestmark = pytest.mark.fast

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"


@pytest.fixture
def client(span_exporter: Any, keys_dir: Path) -> httpx.AsyncClient:
    _, public = ensure_dev_keypair(keys_dir)
    app = create_app("probe", TokenVerifier(issuer="i", audience="a", public_key_file=public))

    @app.get("/things/{thing_id}")
    async def thing(thing_id: str) -> dict[str, str]:
        return {"id": thing_id}

    span_exporter.clear()
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://probe")


def finished(exporter: Any) -> list[Any]:
    return list(exporter.get_finished_spans())


async def test_a_request_without_a_trace_header_has_one_server_span_and_one_trace(
        client: httpx.AsyncClient, span_exporter: Any) -> None:
    assert (await client.get("/things/7")).status_code == 200
    spans = finished(span_exporter)
    servers = [s for s in spans if s.kind == SpanKind.SERVER]
    assert len(servers) == 1, [(s.name, s.kind) for s in spans]
    assert servers[0].name == "GET /things/{thing_id}"
    assert servers[0].attributes["service"] == "probe"
    assert servers[0].attributes["http.response.status_code"] == 200
    assert len({s.context.trace_id for s in spans}) == 1, "every span of the request, one trace"


async def test_a_trace_header_is_continued_by_the_one_server_span(
        client: httpx.AsyncClient, span_exporter: Any) -> None:
    parent = f"00-{TRACE_ID}-00f067aa0ba902b7-01"
    assert (await client.get("/things/7", headers={"traceparent": parent})).status_code == 200
    servers = [s for s in finished(span_exporter) if s.kind == SpanKind.SERVER]
    assert len(servers) == 1
    assert format(servers[0].context.trace_id, "032x") == TRACE_ID
    assert format(servers[0].parent.span_id, "016x") == "00f067aa0ba902b7"
