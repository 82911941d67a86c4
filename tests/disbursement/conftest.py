"""Fixtures of disbursement's tests: a started disbursement service."""

from __future__ import annotations

from typing import Any

import pytest

from shared.runtime import ServiceRuntime


@pytest.fixture
async def disbursement(service: Any) -> ServiceRuntime:
    return await service("disbursement")


@pytest.fixture
def runtime(disbursement: ServiceRuntime) -> ServiceRuntime:
    return disbursement
