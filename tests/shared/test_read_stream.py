"""`shared.bus.read_stream` (a rebuild's reading): fetched and verified ahead of its
caller, it yields only what the live consumer accepts, in stream order, stops cleanly when
its caller does, and raises what failed while reading ahead."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any
from uuid import uuid4

import nats
import pytest

from shared.bus import read_stream, stream_name
from shared.signing import TRUST_FILE, TrustList
from tests.support.archive import T0, Streams, actor, tampered
from tests.support.infra import NatsServer
from tests.support.stack import publish, reset_jetstream

pytestmark = pytest.mark.nats
REGION = "469028"


async def _stream_with_refusals(url: str) -> tuple[Any, Any, list[int]]:
    """Nine review envelopes, two of them refused (edited after sealing; unsigned)."""
    await reset_jetstream(url)
    nc = await nats.connect(url)
    js = nc.jetstream()
    await js.add_stream(name=stream_name(REGION, "review"), subjects=[f"sa.{REGION}.review.>"])
    streams, aggs = Streams(), [uuid4(), uuid4()]
    envs = [streams.emit("review", "audit_record", aggs[n % 2], {"n": n}, at=T0,
                         who=actor("clerk-yelin-1", "township_clerk"), case_id=None,
                         township=None) for n in range(9)]
    envs[3] = tampered(envs[3], n=33)
    envs[6] = envs[6].model_copy(update={"kid": None, "sig": None})
    await publish(url, envs)
    return nc, js, [e.position for i, e in enumerate(envs) if i not in (3, 6)]


async def test_yields_the_accepted_copies_in_order(nats_server: NatsServer,
                                                   keys_dir: Path) -> None:
    nc, js, accepted = await _stream_with_refusals(nats_server.url)
    trust = TrustList.from_file(keys_dir / TRUST_FILE)
    try:
        batches = [b async for b in read_stream(js, REGION, "review", 2, trust)]
        assert [e.position for b in batches for e in b] == accepted
        assert all(1 <= len(b) <= 2 for b in batches)
        # The caller stops after one batch: the reading ahead stops with it.
        reader = read_stream(js, REGION, "review", 1, trust)
        async with contextlib.aclosing(reader):
            async for _ in reader:
                break
        await asyncio.sleep(0)
        assert not [t for t in asyncio.all_tasks() if t.get_name().startswith("read_stream")]
    finally:
        await nc.close()


class _Failing(TrustList):
    def verify(self, *args: Any, **kwargs: Any) -> str | None:
        raise RuntimeError("trust list unreadable")


async def test_a_failure_while_reading_ahead_reaches_the_caller(nats_server: NatsServer,
                                                                keys_dir: Path) -> None:
    nc, js, _ = await _stream_with_refusals(nats_server.url)
    try:
        with pytest.raises(RuntimeError, match="trust list unreadable"):
            async for _ in read_stream(js, REGION, "review", 2, _Failing({})):
                pass
    finally:
        await nc.close()
