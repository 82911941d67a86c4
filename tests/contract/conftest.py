"""The stack as `make up` runs it (launcher subprocess, real NATS, real gateway), shared by
the contract tests: the contract is checked where a frontend meets it."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from deploy.local import free_port_block
from tests.support.launcher import FRONTEND, Stack, launch, stop


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    var = tmp_path_factory.mktemp("contract-stack")
    port_base = free_port_block(7)
    env = {**os.environ, "GATEWAY_CORS_ORIGINS": json.dumps([FRONTEND])}
    proc = launch(var, port_base, port_base + 6, env)
    try:
        yield Stack(f"http://127.0.0.1:{port_base}",
                    json.loads(Path(var / "dev-tokens.json").read_text()))
    finally:
        assert stop(proc) == 0
