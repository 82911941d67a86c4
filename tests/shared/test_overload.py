"""Overload (issue 23): beyond `max_in_flight` requests a service sheds load with 503 and
Retry-After within its wait bound, instead of queueing; health probes always answer."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from shared.auth import TokenVerifier
from shared.web import PROBLEM, create_app

pytestmark = pytest.mark.fast


async def test_beyond_capacity_requests_are_shed_fast_with_retry_after() -> None:
    app = create_app("probe", TokenVerifier(issuer="i", audience="a", jwks_url="http://x"),
                     max_in_flight=4, overload_wait_s=0.2)
    release = asyncio.Event()

    @app.get("/slow")
    async def slow() -> dict[str, str]:
        await release.wait()
        return {"ok": "yes"}

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://probe") as http:
        async def timed(path: str) -> tuple[int, float, httpx.Response]:
            t = time.perf_counter()
            r = await http.get(path)
            return r.status_code, time.perf_counter() - t, r

        inside = [asyncio.create_task(timed("/slow")) for _ in range(4)]
        await asyncio.sleep(0.05)
        shed = await asyncio.gather(*(timed("/slow") for _ in range(6)))
        assert [code for code, _, _ in shed] == [503] * 6
        assert all(took < 1.0 for _, took, _ in shed)
        r = shed[0][2]
        assert r.headers["retry-after"] == "1"
        assert r.headers["content-type"] == PROBLEM and r.json()["code"] == "web.overloaded"
        live = await http.get("/health/live")  # never shed
        assert live.status_code == 200
        release.set()
        assert [code for code, _, _ in await asyncio.gather(*inside)] == [200] * 4
        # Capacity back: the next request gets in.
        assert (await http.get("/slow")).status_code == 200


async def test_a_request_that_waits_less_than_the_bound_gets_in() -> None:
    app = create_app("probe", TokenVerifier(issuer="i", audience="a", jwks_url="http://x"),
                     max_in_flight=1, overload_wait_s=2.0)

    @app.get("/short")
    async def short() -> dict[str, str]:
        await asyncio.sleep(0.2)
        return {"ok": "yes"}

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://probe") as http:
        codes = [r.status_code for r in await asyncio.gather(
            *(http.get("/short") for _ in range(3)))]
    assert codes == [200, 200, 200]
