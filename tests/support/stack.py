"""Build real services in the test process: own store (SQLite file or a PostgreSQL
database), the real nats-server, and an HTTP client on each service's ASGI app."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx
import nats

from shared.natsauth import seed_path
from shared.runtime import ServiceRuntime
from shared.signing import TRUST_FILE, signing_key_path

T = TypeVar("T")


def service_settings(service: str, *, tmp: Path, keys_dir: Path, nats_url: str,
                     database_url: str | None, **overrides: Any) -> Any:
    module = __import__(f"services.{service}.main", fromlist=["build"])
    cls = next(v for k, v in vars(module).items()
               if k.endswith("Settings") and k != "ServiceSettings")
    if "@" in nats_url:  # the admin URL of tests.conftest.NatsServer: connect as the service
        scheme, rest = nats_url.split("://", 1)
        nats_url = f"{scheme}://{rest.split('@', 1)[1]}"
        overrides.setdefault("nats_nkey_seed_file", seed_path(keys_dir, service))
    return cls(var_dir=tmp, nats_url=nats_url, database_url=database_url,
               auth_public_key_file=keys_dir / "jwt-ed25519.pub.pem",
               keyring_file=keys_dir / "bus-keyring.json",
               signing_key_file=signing_key_path(keys_dir, service),
               trust_list_file=keys_dir / TRUST_FILE, relay_idle_poll_s=0.05,
               consumer_backoff_s=0.05, **overrides)


def build_service(service: str, **kwargs: Any) -> ServiceRuntime:
    module = __import__(f"services.{service}.main", fromlist=["build"])
    return module.build(service_settings(service, **kwargs))


async def rebuild_read_models(http: httpx.AsyncClient, headers: dict[str, str],
                              timeout: float = 60.0) -> dict[str, Any]:
    """POST /ops/rebuild-read-models (a background job, 202), then its GET until done."""
    r = await http.post("/ops/rebuild-read-models", headers=headers)
    assert r.status_code == 202, r.text
    assert r.json()["state"] in ("running", "done"), r.text

    async def finished() -> dict[str, Any] | None:
        status = (await http.get("/ops/rebuild-read-models", headers=headers)).json()
        assert status["state"] != "failed", status
        return status if status["state"] == "done" else None
    return await eventually(finished, timeout)


def client(rt: ServiceRuntime) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=rt.http),
                             base_url=f"http://{rt.settings.service}")


async def eventually(probe: Callable[[], Awaitable[T | None]], timeout: float = 10.0) -> T:
    deadline = time.monotonic() + timeout
    while True:
        result = await probe()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(0.05)


async def reset_jetstream(url: str) -> None:
    """Each test starts from empty streams on the shared session server."""
    nc = await nats.connect(url)
    js = nc.jetstream()
    for name in await js.streams_info():
        await js.delete_stream(name.config.name)
    await nc.close()
