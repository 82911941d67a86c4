"""The lifecycle every service shares: bus, stream, outbox relay, consumers, HTTP app.

A service's main.py builds its Application, names its contract mapping and reactions,
and hands them to `ServiceRuntime`; nothing else differs between services.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator, Mapping
from typing import Any

import uvicorn
from fastapi import APIRouter, Depends, FastAPI, Query
from fastapi.responses import JSONResponse

from shared.auth import Principal, Role, TokenVerifier, require
from shared.bus import Bus, OutboxRelay, TrackedConsumer, dead_letters
from shared.eventstore import ServiceApplication
from shared.logs import setup_logging
from shared.outbox import Sealer, ToIntegration
from shared.rebuild import RebuildJobs, RebuildProgress, RebuildStatus, rebuild_own_events
from shared.regions import load_county
from shared.settings import ServiceSettings
from shared.signing import bus_keys
from shared.telemetry import setup_telemetry
from shared.web import Backlog, DeadLetter, create_app

log = logging.getLogger(__name__)
# Who runs the system (the county civil-affairs service centre runs its IT). A dead letter is
# a whole envelope (names, sealed IDs, amounts), so nobody else reads them.
OPERATORS = (Role.COUNTY_CENTRE,)


def verifier_for(settings: ServiceSettings) -> TokenVerifier:
    return TokenVerifier(issuer=settings.auth_issuer, audience=settings.auth_audience,
                         public_key_file=settings.resolved_public_key_file,
                         jwks_url=settings.auth_jwks_url, county=load_county(settings.region))


def tune_gc() -> None:
    """Cycle collection for a long-running service with a large live heap (a month's cached
    rosters): what is loaded at start-up is frozen out of every collection, and collections
    run less often. Measured on disbursement's 200k month: 36.8 s instead of 42.9 s
    (bench/README.md)."""
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


class ServiceRuntime:
    def __init__(self, settings: ServiceSettings, app: ServiceApplication,
                 to_integration: ToIntegration, routers: list[APIRouter],
                 reactions: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        self.settings, self.app, self.to_integration = settings, app, to_integration
        self.reactions = dict(reactions or {})
        setup_telemetry(settings.service, settings.telemetry_exporter, settings.otlp_endpoint)
        self.bus = Bus(settings.nats_url, settings.service, settings.region,
                       nkey_seed_file=settings.nats_nkey_seed_file)
        self.signer, self.trust = bus_keys(settings)
        # Every writer seals its events at commit, whether or not this process relays.
        app.sealer = Sealer(app, to_integration, self.signer, settings.region)
        self.relay: OutboxRelay | None = None
        self.consumers: list[TrackedConsumer] = []
        self._tasks: list[asyncio.Task[Any]] = []
        self.http: FastAPI = create_app(
            settings.service, verifier_for(settings), max_body_bytes=settings.max_body_bytes,
            readiness={"store": self._store_ready, "nats": self._nats_ready,
                       "relay": self._relay_ready},
            lifespan=self._lifespan, max_in_flight=settings.max_in_flight,
            overload_wait_s=settings.overload_wait_s,
        )
        self.http.state.application = app  # shared.web.service_application
        for r in routers:
            self.http.include_router(r)
        self.http.add_api_route("/ops/dead-letters", self._dead_letters, methods=["GET"],
                                response_model=list[DeadLetter],
                                tags=["ops"], dependencies=[Depends(require(*OPERATORS))])
        self.http.add_api_route("/ops/backlog", self._backlog, methods=["GET"],
                                response_model=Backlog,
                                tags=["ops"], dependencies=[Depends(require(*OPERATORS))])
        # A rebuild runs in the background (a province's log takes longer than any HTTP
        # timeout); the old read models serve reads until the new ones are swapped in.
        self.rebuilds = RebuildJobs()
        self.http.add_api_route("/ops/rebuild-read-models", self._start_rebuild,
                                methods=["POST"], tags=["ops"], status_code=202,
                                response_model=RebuildStatus)
        self.http.add_api_route("/ops/rebuild-read-models", self._rebuild_status,
                                methods=["GET"], tags=["ops"], response_model=RebuildStatus,
                                dependencies=[Depends(require(*OPERATORS))])

    async def start(self) -> None:
        await self.bus.connect()
        await self.bus.ensure_stream(self.settings.service,
                                     self.settings.stream_duplicate_window_s,
                                     self.settings.stream_replicas)
        if self.settings.relay_enabled:
            self.relay = self._relay()
            self._tasks.append(asyncio.create_task(self.relay.run(), name="relay"))
        self.start_consumers()

    def _relay(self) -> OutboxRelay:
        s = self.settings
        return OutboxRelay(self.app, self.bus, self.to_integration,
                           s.relay_batch_size, s.relay_idle_poll_s,
                           lease_retry_s=s.relay_lease_retry_s, signer=self.signer,
                           trust=self.trust,
                           checkpoint_every=s.checkpoint_every,
                           checkpoint_max_age_s=s.checkpoint_max_age_s,
                           checkpoint_idle_s=s.checkpoint_idle_s)

    def _consumers(self) -> list[TrackedConsumer]:
        s = self.settings
        return [TrackedConsumer(
            self.app, self.bus, upstream, handlers, batch_size=s.consumer_batch_size,
            ack_wait_s=s.consumer_ack_wait_s, max_deliver=s.consumer_max_deliver,
            backoff_s=s.consumer_backoff_s, trust=self.trust)
            for upstream, handlers in self.reactions.items()]

    def start_consumers(self) -> None:
        for consumer in self._consumers():
            self.consumers.append(consumer)
            self._tasks.append(asyncio.create_task(consumer.run(), name=consumer.durable))

    async def inspect_backlog(self) -> dict[str, Any]:
        """The /ops/backlog answer from outside a running service (the operator CLI): its
        store and JetStream's consumer state, with nothing started, published or consumed."""
        await self.bus.connect()
        try:
            self.relay = self._relay() if self.settings.relay_enabled else None
            self.consumers = self._consumers()
            return await self._backlog()
        finally:
            self.relay, self.consumers = None, []
            await self.bus.close()

    async def stop_consumers(self, timeout_s: float = 5.0) -> None:
        """Let each consumer finish its fetch (≤1 s) and batch, then release its
        subscription: a fetch cancelled mid-flight would hold the connection's drain."""
        names = {c.durable for c in self.consumers}
        for c in self.consumers:
            c.stop()
        tasks = [t for t in self._tasks if t.get_name() in names]
        if tasks:
            await asyncio.wait(tasks, timeout=timeout_s)
        for t in tasks:
            t.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
            self._tasks.remove(t)
        for c in self.consumers:
            await c.close()
        self.consumers.clear()

    async def stop(self) -> None:
        await self.rebuilds.cancel()
        await self.stop_consumers()
        if self.relay:
            self.relay.stop()
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        self._tasks.clear()
        self.consumers.clear()
        await self.bus.close()
        self.app.close()

    @contextlib.asynccontextmanager
    async def _lifespan(self, _: FastAPI) -> AsyncIterator[None]:
        await self.start()
        try:
            yield
        finally:
            await self.stop()

    async def _store_ready(self) -> None:
        await asyncio.to_thread(self.app.ping)

    async def _nats_ready(self) -> None:
        if not self.bus.connected:
            raise RuntimeError("not connected")

    async def _relay_ready(self) -> None:
        if self.settings.relay_enabled and not any(
                t.get_name() == "relay" and not t.done() for t in self._tasks):
            raise RuntimeError("relay not running")
        if self.relay is not None and (self.relay.halted or self.relay.failing):
            raise RuntimeError(f"relay cannot publish: {self.relay.halted or self.relay.failing}")

    async def _backlog(self) -> dict[str, Any]:
        """Is this service caught up? Its unpublished events and each consumer's unfinished
        upstream messages: what an operator asks before a month-end or after an outage."""
        relay = await self.relay.backlog() if self.relay else None
        consumers = {c.upstream: await c.lag() for c in self.consumers}
        caught_up = (relay is None or relay["unpublished"] == 0) and all(
            c["pending"] == 0 and c["unacknowledged"] == 0
            for c in consumers.values())
        return {"service": self.settings.service, "caught_up": caught_up, "relay": relay,
                "consumers": consumers}

    async def rebuild_read_models(self, progress: RebuildProgress | None = None,
                                  ) -> dict[str, Any]:
        """Rebuild the read models from the service's own events (archive adds its streams)."""
        return await asyncio.to_thread(rebuild_own_events, self.app, progress,
                                       self.settings.rebuild_batch_size)

    async def _start_rebuild(self, who: Principal = Depends(require(*OPERATORS)),
                             ) -> JSONResponse:
        log.warning("read-model rebuild requested by %s", who.user_id)
        progress = self.rebuilds.start(self.settings.service, self.rebuild_read_models)
        return JSONResponse(progress.as_dict(), status_code=202)

    async def _rebuild_status(self) -> dict[str, Any]:
        return self.rebuilds.status(self.settings.service)

    async def _dead_letters(self, limit: int = Query(100, ge=1, le=1000),
                            ) -> list[dict[str, Any]]:
        return await dead_letters(self.bus, limit)

    def serve(self) -> None:
        setup_logging(self.settings.service, self.settings.log_level, self.settings.log_format)
        tune_gc()
        # uvicorn's own loggers go through ours (log_config=None); access lines are ours.
        uvicorn.run(self.http, host=self.settings.http_host, port=self.settings.http_port,
                    log_config=None, access_log=False)
