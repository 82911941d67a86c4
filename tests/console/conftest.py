"""The console's browser tests: Playwright for Python driving Debian's chromium (never a
downloaded browser), against one embedded stack per module."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from deploy.local import free_port_block
from tests.support.console import Stack, play_one_case, start_stack
from tests.support.infra import CI

CHROMIUM = os.environ.get("CONSOLE_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
ARTIFACTS = Path(os.environ.get("CONSOLE_TEST_ARTIFACTS",
                                Path(__file__).resolve().parents[2] / "var" / "test-artifacts"
                                / "console"))
_taken: list[Path] = []


@pytest.fixture(scope="session")
def chromium() -> str:
    found = CHROMIUM if os.access(CHROMIUM, os.X_OK) else shutil.which("chromium")
    if not found:
        message = (f"no chromium at {CHROMIUM}: `apt-get install -y chromium` "
                   "(.ci/run installs it)")
        if CI:
            pytest.fail(f"CI=true requires the browser: {message}")
        pytest.skip(message)
    return found


@pytest.fixture(scope="module")
def browser(chromium: str) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, chromium: str) -> Iterator[Stack]:
    var = tmp_path_factory.mktemp("console-stack")
    port_base = free_port_block(7)  # gateway and five services, then NATS
    embedded, gateway, tokens = start_stack(var, port_base)
    try:
        case = play_one_case(gateway, tokens, var / "demo-output")
        yield Stack(f"http://127.0.0.1:{port_base}", var, f"nats://127.0.0.1:{port_base + 6}",
                    case)
    finally:
        gateway.close()
        embedded.stop()


@pytest.fixture
def shoot(request: pytest.FixtureRequest) -> Any:
    """Screenshots kept as artifacts: var/test-artifacts/console/<test>-<n>-<name>.png."""
    if not _taken:  # this run's screenshots only: clear those of an earlier run
        shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    count = 0

    def take(page: Any, name: str) -> Path:
        nonlocal count
        count += 1
        path = ARTIFACTS / f"{request.node.name}-{count:02d}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        _taken.append(path)
        return path

    return take


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _taken:
        terminalreporter.write_line(
            f"console screenshots ({len(_taken)}): {ARTIFACTS}")
