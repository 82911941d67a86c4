"""Fixtures of publicity's in-process API tests: a store on SQLite, a manual clock, tokens."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.publicity.main import PublicityRuntime
from shared.auth import Role, TokenIssuer
from shared.clock import ManualClock
from tests.support.publicity import MONDAY, build_publicity
from tests.support.web import client


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(MONDAY)


@pytest.fixture
def rt(tmp_path: Path, keys_dir: Path, clock: ManualClock) -> PublicityRuntime:
    return build_publicity(tmp_path, keys_dir, clock=clock)


@pytest.fixture
async def http(rt: PublicityRuntime) -> AsyncIterator[httpx.AsyncClient]:
    async with client(rt) as c:
        yield c


@pytest.fixture
def as_(issuer: TokenIssuer) -> Any:
    def headers(role: Role, township: str | None = None,
                village: str | None = None) -> dict[str, str]:
        uid = f"{role.value}-{township or 'county'}-{village or ''}"
        return {"authorization": "Bearer " + issuer.mint(uid, role, township, village)}
    return headers
