"""Build real services in the test process: own store (SQLite file or a PostgreSQL
database), the real nats-server; wait for what they do (`eventually`)."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx
import nats

from shared.bus import Bus
from shared.contracts import Envelope
from shared.natsauth import seed_path
from shared.runtime import ServiceRuntime
from shared.signing import TRUST_FILE, signing_key_path

T = TypeVar("T")
REGION = "469028"


def service_settings(service: str, *, tmp: Path, keys_dir: Path, nats_url: str,
                     database_url: str | None, **overrides: Any) -> Any:
    module = __import__(f"services.{service}.main", fromlist=["build"])
    cls = next(v for k, v in vars(module).items()
               if k.endswith("Settings") and k != "ServiceSettings")
    if "@" in nats_url:  # the admin URL of tests.support.infra.NatsServer: connect as the service
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


# No server listens here: a runtime built on it and not started has no bus (API tests).
NO_NATS = "nats://127.0.0.1:1"


class Services:
    """The runtimes one test starts, on one store backend and one NATS, stopped in reverse
    order at its end (the `service` and `services` fixtures)."""

    def __init__(self, tmp: Path, keys_dir: Path, nats_url: str,
                 database_url: str | None) -> None:
        self.common = dict(tmp=tmp, keys_dir=keys_dir, nats_url=nats_url,
                           database_url=database_url)
        self.started: list[ServiceRuntime] = []

    def build(self, service: str, **overrides: Any) -> ServiceRuntime:
        """Built, not started (a test runs its parts itself); stopped at the end all the same."""
        rt = build_service(service, **{**self.common, **overrides})
        self.started.append(rt)
        return rt

    async def __call__(self, service: str, prepare: Callable[[Any], None] | None = None,
                       **overrides: Any) -> ServiceRuntime:
        return await self.start(service, prepare, **overrides)

    async def start(self, service: str, prepare: Callable[[Any], None] | None = None,
                    **overrides: Any) -> ServiceRuntime:
        """Build `service` with these settings, `prepare(rt)` (e.g. pin its clock), start."""
        rt = build_service(service, **{**self.common, **overrides})
        if prepare is not None:
            prepare(rt)
        await rt.start()
        self.started.append(rt)
        return rt

    async def stop(self) -> None:
        for rt in reversed(self.started):
            await rt.stop()


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


async def eventually(probe: Callable[[], Awaitable[T | None] | T | None],
                     timeout: float = 10.0) -> T:
    """The probe's first truthy answer (a coroutine's or a plain value), polled."""
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(0.05)


async def ensure_streams(url: str, *services: str) -> None:
    """Upstream streams in place before a consumer binds, as their services would make them."""
    bus = Bus(url, "test-publisher", REGION)
    await bus.connect()
    for service in services:
        await bus.ensure_stream(service, 3600)
    await bus.close()


async def publish(url: str, envelopes: list[Envelope]) -> None:
    """Onto the envelopes' streams as a relay publishes: their subject, Nats-Msg-Id."""
    nc = await nats.connect(url)
    js = nc.jetstream()
    for env in envelopes:
        await js.publish(env.subject, env.to_bytes(), headers={"Nats-Msg-Id": env.msg_id})
    await nc.close()


async def reset_jetstream(url: str) -> None:
    """Each test starts from empty streams on the shared session server."""
    nc = await nats.connect(url)
    js = nc.jetstream()
    for name in await js.streams_info():
        await js.delete_stream(name.config.name)
    await nc.close()
