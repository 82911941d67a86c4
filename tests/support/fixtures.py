"""Fixture makers for an area's conftest: one line instead of a copied fixture."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.stack import Services


def started_service(name: str, **settings: Any) -> tuple[Any, Any]:
    """The fixtures `<name>` (the service started through `service`, with these settings)
    and `runtime` (the same one, for the `http` client): `intake, runtime =
    started_service("intake")`."""

    @pytest.fixture(name=name)
    async def started(service: Services) -> Any:
        return await service(name, **settings)

    @pytest.fixture(name="runtime")
    def runtime(request: pytest.FixtureRequest) -> Any:
        return request.getfixturevalue(name)

    return started, runtime
