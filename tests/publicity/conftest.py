"""Fixtures of publicity's in-process API tests: a store on SQLite, a manual clock (its
`http` client via `runtime`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.publicity.main import PublicityRuntime
from shared.clock import ManualClock
from tests.support.publicity import MONDAY, build_publicity


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(MONDAY)


@pytest.fixture
def rt(tmp_path: Path, keys_dir: Path, clock: ManualClock) -> PublicityRuntime:
    return build_publicity(tmp_path, keys_dir, clock=clock)


@pytest.fixture
def runtime(rt: PublicityRuntime) -> PublicityRuntime:
    return rt
