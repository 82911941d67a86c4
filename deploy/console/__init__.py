"""The county audit console, served by the gateway at /console (issue 21)."""

from __future__ import annotations

from collections.abc import Callable

import httpx
from fastapi import FastAPI

from deploy.console.app import ConsoleSettings, create_console

__all__ = ["ConsoleSettings", "create_console", "mount_console"]


def mount_console(gateway: FastAPI, upstream: Callable[[str], str],
                  transport: httpx.AsyncBaseTransport | None = None) -> None:
    gateway.mount("/console", create_console(upstream, transport))
