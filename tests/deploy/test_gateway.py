"""Hostile input at the embedded gateway (deploy/gateway.py), in front of a real intake
service: control characters in the path and oversized bodies are 4xx problem+json, refused
before anything reaches the service, and nothing is written."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import httpx
import pytest

from deploy.gateway import GatewaySettings, create_gateway
from shared.auth import Role, TokenIssuer
from shared.runtime import ServiceRuntime
from tests.support.fixtures import started_service
from tests.support.gateway import ToServices
from tests.support.intake import filing
from tests.support.places import YELIN
from tests.support.web import assert_problem

LIMIT = 64 * 1024


intake, runtime = started_service("intake")


@pytest.fixture
async def gateway(intake: ServiceRuntime) -> AsyncIterator[tuple[httpx.AsyncClient, ToServices]]:
    settings = GatewaySettings(max_body_bytes=LIMIT)
    network = ToServices(settings, {"intake": intake.http})
    app = create_gateway(settings, transport=network)
    async with contextlib.AsyncExitStack() as stack:
        await stack.enter_async_context(app.router.lifespan_context(app))
        c = await stack.enter_async_context(httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://gateway"))
        yield c, network


@pytest.fixture
def clerk(issuer: TokenIssuer) -> dict[str, str]:
    return {"authorization": "Bearer " + issuer.mint("clerk-yelin-1", Role.TOWNSHIP_CLERK,
                                                     YELIN)}


def head(rt: ServiceRuntime) -> int | None:
    return rt.app.recorder.max_notification_id()


async def test_the_gateway_forwards_a_filing(gateway: tuple[httpx.AsyncClient, ToServices],
                                             intake: ServiceRuntime,
                                             clerk: dict[str, str]) -> None:
    """Control: the refusals below are the input's doing."""
    http, _ = gateway
    r = await http.post("/api/intake/applications", json=filing(), headers=clerk)
    assert r.status_code == 201, r.text
    assert head(intake) is not None


@pytest.mark.parametrize("escaped", ["%00", "%0A", "%0D%0A", "%07", "%1B", "%7F", "%C2%85"])
async def test_a_control_character_in_the_path_is_400(
        gateway: tuple[httpx.AsyncClient, ToServices], intake: ServiceRuntime,
        clerk: dict[str, str], escaped: str) -> None:
    http, network = gateway
    for method, path in (("POST", f"/api/intake/applications{escaped}"),
                         ("GET", f"/api/intake/applications/{escaped}x"),
                         ("POST", f"/api/intake/{escaped}/applications")):
        r = await http.request(method, path, json=filing(), headers=clerk)
        body = assert_problem(r, 400, "gateway.invalid_path")
        assert body["field"] == "path"
    assert network.calls == 0
    assert head(intake) is None


async def test_a_declared_oversized_body_is_413_before_it_is_read(
        gateway: tuple[httpx.AsyncClient, ToServices], intake: ServiceRuntime,
        clerk: dict[str, str]) -> None:
    http, network = gateway
    read = 0

    async def body() -> AsyncIterator[bytes]:
        nonlocal read
        for _ in range(10_000):  # would be 640 MB
            read += 1
            yield b"x" * LIMIT

    r = await http.post("/api/intake/applications", content=body(),
                        headers={**clerk, "content-length": str(10_000 * LIMIT)})
    assert_problem(r, 413, "gateway.body_too_large")
    assert read <= 1
    assert network.calls == 0 and head(intake) is None


async def test_a_chunked_oversized_body_is_413_as_soon_as_it_passes_the_limit(
        gateway: tuple[httpx.AsyncClient, ToServices], intake: ServiceRuntime,
        clerk: dict[str, str]) -> None:
    http, network = gateway
    read = 0

    async def body() -> AsyncIterator[bytes]:
        nonlocal read
        for _ in range(10_000):
            read += 1
            yield b"x" * 4096

    r = await http.post("/api/intake/applications", content=body(), headers=clerk)
    assert_problem(r, 413, "gateway.body_too_large")
    assert read <= LIMIT // 4096 + 2  # stopped at the limit, not after 40 MB
    assert network.calls == 0 and head(intake) is None


async def test_a_body_at_the_limit_passes_and_a_bad_length_is_400(
        gateway: tuple[httpx.AsyncClient, ToServices], intake: ServiceRuntime,
        clerk: dict[str, str]) -> None:
    http, network = gateway
    r = await http.post("/api/intake/applications", content=b"{" + b" " * (LIMIT - 2) + b"}",
                        headers={**clerk, "content-type": "application/json"})
    assert r.status_code == 422, r.text  # reached intake, which validated it
    assert network.calls == 1
    r = await http.post("/api/intake/applications", content=b"{}",
                        headers={**clerk, "content-length": "-1"})
    assert_problem(r, 400, "gateway.invalid_content_length")
    assert head(intake) is None


async def test_beyond_its_capacity_the_gateway_sheds_with_503_and_retry_after() -> None:
    """Requests the gateway cannot take within its wait bound get 503 + Retry-After at
    once, without reaching a service, instead of queueing behind the others."""
    import asyncio

    from fastapi import FastAPI

    release = asyncio.Event()
    upstream = FastAPI()

    @upstream.get("/slow")
    async def slow() -> dict[str, str]:
        await release.wait()
        return {"ok": "yes"}

    @upstream.get("/quick")
    async def quick() -> dict[str, str]:
        return {"ok": "yes"}

    settings = GatewaySettings(max_in_flight=2, overload_wait_s=0.2)
    network = ToServices(settings, {"intake": upstream, "review": upstream})
    app = create_gateway(settings, transport=network)
    async with contextlib.AsyncExitStack() as stack:
        await stack.enter_async_context(app.router.lifespan_context(app))
        c = await stack.enter_async_context(httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://gateway"))
        inside = [asyncio.create_task(c.get("/api/intake/slow")) for _ in range(2)]
        await asyncio.sleep(0.1)
        shed = await asyncio.gather(*(c.get("/api/intake/slow") for _ in range(3)))
        for r in shed:
            assert_problem(r, 503, "web.overloaded")
            assert r.headers["retry-after"] == "1"
        assert network.calls == 2  # the shed ones never reached the service
        # The limit is per service: review's requests still get in while intake is full.
        assert (await c.get("/api/review/quick")).status_code == 200
        release.set()
        assert [r.status_code for r in await asyncio.gather(*inside)] == [200, 200]


async def test_an_encoded_hash_in_the_path_stays_in_the_path(
        gateway: tuple[httpx.AsyncClient, ToServices], clerk: dict[str, str],
        intake: ServiceRuntime) -> None:
    c, _ = gateway
    before = head(intake)
    r = await c.post("/api/intake/applications/x%23y/accept", headers=clerk)
    # Cut at the '#', this would be POST /applications/x: a GET route, 405.
    assert_problem(r, 422, "web.validation")
    assert head(intake) == before
