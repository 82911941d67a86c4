"""Review test fixtures: a review service built in-process on its own store, and tokens
for every role (a township's by default 椰林镇's; county roles carry none)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

import pytest

from shared.auth import COUNTY_ROLES, Role
from shared.runtime import ServiceRuntime
from tests.support.places import YELIN
from tests.support.stack import NO_NATS, build_service


@pytest.fixture
def review(tmp_path: Path, keys_dir: Path) -> Iterator[ServiceRuntime]:
    """The review service's app and HTTP routes on a fresh SQLite store. Not started: API
    tests need no bus (the NATS path has its own tests); "today" is pinned."""
    rt = build_service("review", tmp=tmp_path, keys_dir=keys_dir, nats_url=NO_NATS,
                       database_url=None)
    rt.app.today = lambda: date(2025, 3, 10)  # type: ignore[method-assign]
    yield rt
    rt.app.close()


@pytest.fixture
def runtime(review: ServiceRuntime) -> ServiceRuntime:
    return review


@pytest.fixture
def as_(as_: Callable[..., dict[str, str]]) -> Callable[..., dict[str, str]]:
    def headers(role: Role, township: str | None = YELIN, org: str | None = None,
                user_id: str | None = None) -> dict[str, str]:
        return as_(role, None if role in COUNTY_ROLES else township, org=org, user_id=user_id)
    return headers
