"""Overload through the gateway of a launched stack (issue 23): a flood far beyond what the
gateway lets in at once is answered, every request, with either its 201 or a 503 with
Retry-After, and the shed answers come back without queueing behind the admitted ones.
The timing figures belong to bench/stack_http.py; the bounds here are generous on purpose."""

from __future__ import annotations

import asyncio
import json
import os
import time
from pathlib import Path

import httpx
import pytest

from deploy.local import free_port_block
from tests.support.intake import filing
from tests.support.launcher import launch, stop
from tests.support.places import YELIN

pytestmark = [pytest.mark.nats, pytest.mark.slow]

FLOOD = 80  # households 1..80 (resident-ID sequences stay below 100)


async def test_a_flood_is_answered_with_201_or_a_prompt_503_with_retry_after(
        tmp_path: Path) -> None:
    port_base = free_port_block(7)
    # A small gateway: two filings inside at once, 50 ms to wait for a place.
    env = {**os.environ, "GATEWAY_MAX_IN_FLIGHT": "2", "GATEWAY_OVERLOAD_WAIT_S": "0.05"}
    proc = launch(tmp_path, port_base, port_base + 6, env)
    try:
        tokens = json.loads((tmp_path / "dev-tokens.json").read_text())
        clerk = {"authorization": f"Bearer {tokens[f'township_clerk@{YELIN}']}"}
        limits = httpx.Limits(max_connections=FLOOD, max_keepalive_connections=FLOOD)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port_base}", timeout=60,
                                     limits=limits) as http:
            async def one(household: int) -> tuple[httpx.Response, float]:
                t = time.perf_counter()
                r = await http.post("/api/intake/applications",
                                    json=filing(household=household), headers=clerk)
                return r, time.perf_counter() - t

            answers = await asyncio.gather(*(one(k) for k in range(1, FLOOD + 1)))
            assert (await http.get("/health")).status_code == 200  # alive and ready after
        codes = sorted({r.status_code for r, _ in answers})
        assert set(codes) <= {201, 503}, codes
        filed = [took for r, took in answers if r.status_code == 201]
        shed = [(r, took) for r, took in answers if r.status_code == 503]
        assert filed and shed, codes
        for r, _ in shed:
            assert r.headers["retry-after"] == "1"
            assert r.headers["content-type"] == "application/problem+json"
            assert r.json()["code"] == "web.overloaded"
        # Shed at the door, not after a wait behind the admitted filings: the slowest shed
        # answer is well under the gateway's 30 s upstream timeout, even on a loaded machine.
        assert max(took for _, took in shed) < 15.0
    finally:
        assert stop(proc) == 0
