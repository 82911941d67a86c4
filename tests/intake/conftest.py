"""Fixtures of intake's tests: a started intake service (its `http` client via `runtime`),
a clerk's token, and a forger's keys."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from shared.auth import Role, TokenIssuer, ensure_dev_keypair
from tests.support.actors import CLERK
from tests.support.fixtures import started_service
from tests.support.places import YELIN

# A started intake service on its own SQLite file, stopped after the test; its `http`.
intake, runtime = started_service("intake")


@pytest.fixture
def clerk(as_: Any) -> dict[str, str]:
    return dict(as_(Role.TOWNSHIP_CLERK, YELIN, user_id=CLERK.user_id))


@pytest.fixture(scope="module")
def forger(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TokenIssuer]:
    private, _ = ensure_dev_keypair(tmp_path_factory.mktemp("forged-keys"))
    yield TokenIssuer(private, "lingshui-dev", "social-assistance")
