from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from shared.runtime import ServiceRuntime
from tests.conftest import NatsServer
from tests.stack import build_service, reset_jetstream


@pytest.fixture
async def services(request: pytest.FixtureRequest, backend: str, tmp_path: Path,
                   keys_dir: Path, nats_server: NatsServer, span_exporter: Any,
                   ) -> AsyncIterator[Callable[..., Any]]:
    """A factory of started services sharing this test's store backend and NATS."""
    await reset_jetstream(nats_server.url)
    database_url = (request.getfixturevalue("postgres_url") if backend == "postgres" else None)
    started: list[ServiceRuntime] = []

    async def start(service: str, **overrides: Any) -> ServiceRuntime:
        rt = build_service(service, tmp=tmp_path, keys_dir=keys_dir, nats_url=nats_server.url,
                           database_url=database_url, **overrides)
        await rt.start()
        started.append(rt)
        return rt

    yield start
    for rt in reversed(started):
        await rt.stop()
