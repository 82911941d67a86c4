"""The stack as `make up` runs it (launcher subprocess, real NATS, real gateway), shared by
the contract tests: the contract is checked where a frontend meets it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from deploy.local import free_port_block
from tests.e2e.test_embedded_stack import stop

FRONTEND = "https://frontend.lingshui.example"


@dataclass
class Stack:
    url: str
    tokens: dict[str, str]


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    var = tmp_path_factory.mktemp("contract-stack")
    port_base = free_port_block(7)
    env = {**os.environ, "GATEWAY_CORS_ORIGINS": json.dumps([FRONTEND])}
    proc = subprocess.Popen(
        [sys.executable, "-m", "deploy.local", "--var", str(var), "--port-base",
         str(port_base), "--nats-port", str(port_base + 6)], stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, env=env)
    assert proc.stdout is not None
    for line in proc.stdout:
        if "is up in" in line:
            break
    else:
        raise AssertionError(f"launcher ended: {proc.wait()}")
    try:
        yield Stack(f"http://127.0.0.1:{port_base}",
                    json.loads(Path(var / "dev-tokens.json").read_text()))
    finally:
        assert stop(proc) == 0
