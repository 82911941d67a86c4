"""Fixtures of intake's tests: a started intake service, its HTTP client, tokens."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from shared.auth import Role, TokenIssuer, ensure_dev_keypair
from shared.runtime import ServiceRuntime
from tests.conftest import NatsServer
from tests.e2e.conftest import services  # noqa: F401  (the started-services factory)
from tests.stack import build_service, client, reset_jetstream

YELIN = "469028100"


# --- fixtures -------------------------------------------------------------------------------


@pytest.fixture
async def intake(tmp_path: Path, keys_dir: Path, nats_server: NatsServer,
                 span_exporter: Any) -> AsyncIterator[ServiceRuntime]:
    """A started intake service on its own SQLite file; stopped after the test."""
    await reset_jetstream(nats_server.url)
    rt = build_service("intake", tmp=tmp_path, keys_dir=keys_dir, nats_url=nats_server.url,
                       database_url=None)
    await rt.start()
    yield rt
    await rt.stop()


@pytest.fixture
async def http(intake: ServiceRuntime) -> AsyncIterator[httpx.AsyncClient]:
    async with client(intake) as c:
        yield c


@pytest.fixture
def as_(issuer: TokenIssuer) -> Any:
    """Authorization headers for a user: as_(Role.TOWNSHIP_CLERK, YELIN)."""
    def headers(role: Role, township: str | None = None, village: str | None = None,
                user_id: str | None = None) -> dict[str, str]:
        uid = user_id or f"{role.value}-{township or 'county'}-{village or ''}"
        return {"authorization": "Bearer " + issuer.mint(uid, role, township, village)}
    return headers


@pytest.fixture
def clerk(as_: Any) -> dict[str, str]:
    return dict(as_(Role.TOWNSHIP_CLERK, YELIN, user_id="clerk-yelin-1"))


@pytest.fixture(scope="module")
def forger(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TokenIssuer]:
    private, _ = ensure_dev_keypair(tmp_path_factory.mktemp("forged-keys"))
    yield TokenIssuer(private, "lingshui-dev", "social-assistance")


