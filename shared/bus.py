"""NATS JetStream wiring: streams, the outbox relay, and the tracked durable consumer.

- One stream per service (file storage, no age limit, a duplicate window): part of the
  audit record.
- The relay publishes each committed domain event's envelope (its integration contract, or
  else an audit record; hash-chained and signed in the writer's transaction, shared/outbox.py,
  or by the relay for an event a writer left unsealed), with `Nats-Msg-Id =
  <service>:<position>:<hash[:16]>`, resuming from its tracked position; JetStream drops a
  republished duplicate, and a duplicate whose stored copy differs halts it.
- The consumer verifies subject, hash, signature (against the trust list) and the chain link
  to the head it holds, before any effect; then it applies a handler and records (upstream,
  position) and the new head in the SAME transaction as the events it produces, so
  redeliveries and replays have no second effect.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

import nats
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, StorageType, StreamConfig
from nats.js.errors import BadRequestError, NotFoundError, ServerError
from opentelemetry import trace
from pydantic import ValidationError

from shared.checkpoint import Checkpointer
from shared.contracts import GENESIS_HASH, Envelope
from shared.errors import DomainError
from shared.eventstore import ServiceApplication, StaleRelay
from shared.lease import RelayLease, lease_for
from shared.natsauth import inbox_prefix
from shared.outbox import Sealer, ToIntegration
from shared.signing import BusSigner, TrustList, bus_keys
from shared.telemetry import producer_headers, span

log = logging.getLogger(__name__)
STORE_NOT_CREATED = 10049  # JetStream: "error creating store for stream"


def stream_name(region: str, service: str) -> str:
    return f"SA_{region}_{service.upper()}"


def service_subjects(region: str, service: str) -> str:
    return f"sa.{region}.{service}.>"


def deadletter_stream(region: str) -> str:
    return f"SA_{region}_DEADLETTER"


def deadletter_subject(region: str, service: str, upstream: str) -> str:
    return f"sa.{region}.deadletter.{service}.{upstream}"


class Bus:
    """One NATS connection per service process, re-binding consumers after a reconnect."""

    def __init__(self, url: str, name: str, region: str, *,
                 nkey_seed_file: Path | None = None) -> None:
        self.url, self.name, self.region = url, name, region
        self.nkey_seed_file = nkey_seed_file
        self.nc: NATS | None = None
        self.closing = False  # set by close(): errors from then on are expected
        self.js: JetStreamContext | None = None
        self.reconnects = 0

    async def connect(self) -> None:
        async def reconnected() -> None:
            self.reconnects += 1
            log.warning("%s reconnected to NATS (%d)", self.name, self.reconnects)

        # The service's own NKey user, replies on its own inbox prefix (its permissions
        # allow no other: shared/natsauth.py).
        auth: dict[str, Any] = {}
        if self.nkey_seed_file is not None:
            auth = {"nkeys_seed": str(self.nkey_seed_file),
                    "inbox_prefix": inbox_prefix(self.name)}
        # A comma-separated list seeds a cluster; the server announces the other nodes.
        self.closing = False
        self.nc = await nats.connect(**auth,
            servers=[u.strip() for u in self.url.split(",") if u.strip()], name=self.name,
            max_reconnect_attempts=-1, reconnect_time_wait=0.5, connect_timeout=2,
            reconnected_cb=reconnected, allow_reconnect=True, error_cb=self._connection_error,
        )
        self.js = self.nc.jetstream(timeout=5)

    @property
    def connected(self) -> bool:
        return self.nc is not None and self.nc.is_connected

    async def ensure_stream(self, service: str, duplicate_window_s: float,
                            replicas: int = 1) -> None:
        await self._ensure(StreamConfig(
            name=stream_name(self.region, service),
            subjects=[service_subjects(self.region, service)],
            storage=StorageType.FILE, max_age=0, duplicate_window=duplicate_window_s,
            num_replicas=replicas, deny_delete=True, deny_purge=True,  # the audit record
        ))
        await self._ensure(StreamConfig(
            name=deadletter_stream(self.region),
            subjects=[f"sa.{self.region}.deadletter.>"],
            storage=StorageType.FILE, max_age=0, num_replicas=replicas,
            deny_delete=True, deny_purge=True,
        ))

    async def _ensure(self, config: StreamConfig, attempts: int = 10) -> None:
        assert self.js is not None
        for attempt in range(attempts):
            try:
                await self.js.add_stream(config)
            except BadRequestError:
                try:
                    await self.js.update_stream(config)
                except nats.errors.TimeoutError:
                    # Services may create their stream, never change it (a lower limit would
                    # discard the audit record): the server refuses, the request times out.
                    log.error("stream %s exists with another configuration that %s may not "
                              "update; an operator must", config.name, self.name)
            except ServerError as e:
                # 10049: the server could not create the stream's store yet, e.g. while a
                # stream of that name is still being removed from disk. Transient: retry.
                if e.err_code != STORE_NOT_CREATED or attempt == attempts - 1:
                    raise
                await asyncio.sleep(0.2 * (attempt + 1))
                continue
            return

    async def _connection_error(self, e: Exception) -> None:
        """nats-py's default logs each connection error with its traceback, every
        reconnect attempt of an outage and again while a stop drains: one line is enough."""
        if self.closing:
            log.debug("%s: NATS error while closing: %r", self.name, e)
        else:
            log.warning("%s: NATS connection error: %s", self.name, f"{type(e).__name__}: {e}")

    async def close(self) -> None:
        self.closing = True
        if self.nc is not None and not self.nc.is_closed:
            try:
                # A server that went first cannot be drained: nats-py's drain would hang on
                # the dead socket until cancelled, leaving an unretrieved error to be logged.
                await self.nc.flush(timeout=1)
                await asyncio.wait_for(self.nc.drain(), 5.0)
            except Exception:  # a drain stuck on a dead subscription must not hang a stop
                # With the server gone, closing the socket fails too: nothing is left to do.
                with contextlib.suppress(Exception):
                    await self.nc.close()


class RelayHalted(Exception):
    """The relay found its next message id taken by other content."""


class OutboxRelay:
    """Publishes the store's notification log to JetStream after commit (transactional outbox)."""

    def __init__(self, app: ServiceApplication, bus: Bus, to_integration: ToIntegration,
                 batch_size: int = 500, idle_poll_s: float = 0.2, *,
                 lease: RelayLease | None = None, lease_retry_s: float = 1.0,
                 signer: BusSigner | None = None, trust: TrustList | None = None,
                 checkpoint_every: int = 1000, checkpoint_max_age_s: float = 86400.0,
                 checkpoint_idle_s: float = 60.0, remember_states: int = 2000) -> None:
        self.app, self.bus, self.to_integration = app, bus, to_integration
        if signer is None or trust is None:
            own_signer, own_trust = bus_keys(app.settings)
            signer, trust = signer or own_signer, trust or own_trust
        self.signer, self.trust = signer, trust
        # Set when the relay cannot go on by itself: readiness fails, /ops/backlog shows it.
        self.halted: str | None = None
        self.failing: str | None = None
        self.batch_size, self.idle_poll_s = batch_size, idle_poll_s
        self.ack_timeout_s = 10.0
        self.name = f"{app.name}->nats"
        # The writer's sealer when it has one (ServiceRuntime installs it); else the relay's
        # own, for the events it finds unsealed.
        self.sealer = app.sealer if app.sealer is not None else Sealer(
            app, to_integration, signer, bus.region, remember_states)
        self.checkpoints = Checkpointer(app, checkpoint_every,
                                        timedelta(seconds=checkpoint_max_age_s),
                                        timedelta(seconds=checkpoint_idle_s))
        self._idle_checked = 0.0
        self.lease = lease or lease_for(app, self.name)
        self.lease_retry_s = lease_retry_s
        self.active = False
        self._wake = asyncio.Event()
        self._stopping = False
        self.published = 0
        loop = asyncio.get_running_loop()
        app.on_commit(lambda: loop.call_soon_threadsafe(self._wake.set))

    async def run(self) -> None:
        try:
            while not self._stopping:
                try:
                    # Checked before every batch: a relay that lost the lease stops at once.
                    if self.halted:  # never advances past a pre-empted id by itself
                        await self._pause(self.lease_retry_s)
                        continue
                    self.active = await asyncio.to_thread(self.lease.acquire)
                    if not self.active:
                        self.failing = None
                        await self._pause(self.lease_retry_s)  # a standby
                        continue
                    published = await self.publish_pending()
                    self.failing = None
                    if published:
                        continue
                except RelayHalted:
                    self.active = False
                    await asyncio.to_thread(self.lease.release)
                    continue
                except Exception as e:  # NATS or the store failing: let a healthier replica try
                    log.exception("relay %s failed; releasing the lease, retrying", self.name)
                    self.failing = f"{type(e).__name__}: {e}"[:300]
                    self.active = False
                    await asyncio.to_thread(self.lease.release)
                    await self._pause(1.0)
                    continue
                await self._pause(self.idle_poll_s)
        finally:
            self.active = False
            await asyncio.to_thread(self.lease.dispose)

    async def _pause(self, seconds: float) -> None:
        self._wake.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), seconds)

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()

    async def backlog(self) -> dict[str, int]:
        """Committed notifications not yet published (any replica's relay counts)."""
        def read() -> tuple[int, int]:
            return (self.app.relay_position(self.name),
                    self.app.recorder.max_notification_id() or 0)
        position, head = await asyncio.to_thread(read)
        return {"position": position, "head": head, "unpublished": max(0, head - position),
                "halted": self.halted, "failing": self.failing}

    async def publish_pending(self) -> int:
        """Publish one batch after the tracked position; returns notifications consumed."""
        position = await asyncio.to_thread(self.app.relay_position, self.name)
        last, batch = await asyncio.to_thread(self._sealed_batch, position)
        if not batch:
            if time.monotonic() - self._idle_checked >= self.idle_poll_s * 10:
                self._idle_checked = time.monotonic()
                await asyncio.to_thread(self.checkpoints.maybe_record, position, True)
            return 0
        assert self.bus.js is not None
        # Pipelined: JetStream keeps one connection's publishes in order, so the batch goes
        # out at once and the position advances only when every ack is back.
        acks = []
        for subject, msg_id, payload, traceparent in batch:
            producer, headers = producer_headers(f"publish {subject}", traceparent)
            headers["Nats-Msg-Id"] = msg_id
            try:
                acks.append(await self.bus.js.publish_async(subject, payload, headers=headers))
            finally:
                producer.end()
        results = await asyncio.wait_for(asyncio.gather(*acks), self.ack_timeout_s)
        for (subject, msg_id, payload, _), ack in zip(batch, results, strict=True):
            if ack.duplicate:
                await self._check_duplicate(subject, msg_id, ack, payload)
        await asyncio.to_thread(self.app.advance_relay, self.name, position, last)
        self.published += len(batch)
        # Committed here, published with the next batch, like any event.
        await asyncio.to_thread(self.checkpoints.maybe_record, last)
        return len(batch)

    def pending_envelopes(self, limit: int = 10_000) -> list[Envelope]:
        """The envelopes the relay's next publishes carry, in order, sealing any a writer
        left unsealed (for tools and tests; blocking)."""
        rows = self._sealed_rows(self.app.relay_position(self.name), limit)
        return [Envelope.model_validate_json(self.app.from_rest_bytes(r.envelope))
                for _, r in rows]

    def _sealed_batch(self, position: int,
                      ) -> tuple[int, list[tuple[str, str, bytes, str | None]]]:
        """The next batch's last position and stored envelopes (subject, msg id, bytes,
        traceparent), after sealing any event of it a writer left unsealed."""
        rows = self._sealed_rows(position, self.batch_size)
        return (rows[-1][0] if rows else position,
                [(r.subject, r.msg_id, self.app.from_rest_bytes(r.envelope), r.traceparent)
                 for _, r in rows])

    def _sealed_rows(self, position: int, limit: int) -> list[tuple[int, Any]]:
        """The next `limit` outbox rows after `position`, sealing first what a writer left."""
        rows = self.app.outbox_after(position, limit)
        if rows and any(row is None for _, row in rows):
            self.sealer.seal_backlog(self.name, position, rows[0][0], rows[-1][0])
            rows = self.app.outbox_after(position, len(rows))
            if any(row is None for _, row in rows):  # sealed by the lock's holder? retry
                raise StaleRelay(f"{self.name}: unsealed events after {position}")
        return rows

    async def _check_duplicate(self, subject: str, msg_id: str, ack: Any,
                               payload: bytes) -> None:
        """A duplicate ack is harmless only if JetStream holds this envelope (a republish
        after a crash; signed under an older kid after a rotation). Anything else took this
        envelope's id: halt, loudly."""
        assert self.bus.js is not None
        try:
            stored = await self.bus.js.get_msg(ack.stream, ack.seq)
            same = stored.subject == subject and (
                stored.data == payload
                or self._same_envelope(stored.data or b"", Envelope.model_validate_json(payload)))
        except NotFoundError:
            same = False
        if same:
            return
        self.halted = (f"{msg_id} was taken by a different message (stream seq "
                       f"{ack.seq}); the relay position is not advanced")
        log.critical("relay %s HALTED: %s", self.name, self.halted)
        with contextlib.suppress(Exception):  # visible in /ops/dead-letters too
            await self.bus.js.publish(
                deadletter_subject(self.bus.region, self.app.name, "relay"), payload,
                headers={"Sa-Dead-Reason": "relay halted: " + self.halted,
                         "Sa-Original-Subject": subject, "Sa-Consumer": self.name})
        raise RelayHalted(self.halted)

    def _same_envelope(self, data: bytes, env: Envelope) -> bool:
        try:
            stored = Envelope.model_validate_json(data)
        except ValidationError:
            return False
        return stored.hash == env.hash and refusal(self.trust, self.app.name, env.subject,
                                                   stored) is None


Handler = Callable[[Envelope], None]
RejectHandler = Callable[[Envelope, str, str], None]  # envelope, reason, expected prev hash
# A consumer's handlers map event type → handler; "*" handles every other type (archive);
# CONFLICT handles a different copy of an already handled position (default: dead letter);
# REJECTED is told of every copy that failed verification (archive raises a chain alarm);
# it is a RejectHandler, and the copy is dead-lettered either way.
CONFLICT = "!conflict"
REJECTED = "!rejected"


class Rejected(Exception):
    def __init__(self, reason: str, expected_prev: str = "") -> None:
        super().__init__(reason)
        self.reason, self.expected_prev = reason, expected_prev


class ChainGap(Rejected):
    """The copy does not link to the head held, but its predecessor may still be on its
    way (a redelivery after a nak): retried, and rejected once the retries run out."""


def refusal(trust: TrustList, upstream: str, subject: str, env: Envelope) -> str | None:
    """What can be checked on a copy alone: None, or why it is refused."""
    if subject != env.subject or env.source != upstream:
        return "subject_mismatch"  # e.g. intake's credentials publishing "review" events
    if not env.hash_is_valid():
        return "hash_mismatch"
    return trust.verify(env.source, env.kid, env.sig, env.hash, env.position)


class TrackedConsumer:
    """A durable pull consumer of one upstream service's stream, exactly-once in effect."""

    def __init__(self, app: ServiceApplication, bus: Bus, upstream: str,
                 handlers: Mapping[str, Any], *, batch_size: int = 50,
                 ack_wait_s: float = 30.0, max_deliver: int = 5, backoff_s: float = 0.5,
                 trust: TrustList | None = None) -> None:
        self.app, self.bus, self.upstream, self.handlers = app, bus, upstream, handlers
        self.trust = trust or bus_keys(app.settings)[1]
        self.rejected = 0
        self.durable = f"{app.name}-from-{upstream}"
        self.batch_size, self.ack_wait_s = batch_size, ack_wait_s
        self.max_deliver, self.backoff_s = max_deliver, backoff_s
        self._sub: JetStreamContext.PullSubscription | None = None
        self._bound_at_reconnect = -1
        self._stopping = False
        self.handled = 0
        self.dead_lettered = 0

    async def _bind(self) -> None:
        assert self.bus.js is not None
        if self._sub is not None:
            # The old subscription may already be gone with the connection.
            with contextlib.suppress(Exception):
                await self._sub.unsubscribe()
        self._sub = await self.bus.js.pull_subscribe(
            service_subjects(self.bus.region, self.upstream),
            durable=self.durable,
            stream=stream_name(self.bus.region, self.upstream),
            config=ConsumerConfig(
                durable_name=self.durable, ack_policy=AckPolicy.EXPLICIT,
                deliver_policy=DeliverPolicy.ALL, ack_wait=self.ack_wait_s,
                # One more than ours, so the consumer itself terms and dead-letters.
                max_deliver=self.max_deliver + 1,
            ),
        )
        self._bound_at_reconnect = self.bus.reconnects

    async def run(self) -> None:
        while not self._stopping:
            try:
                # nats-py #504: a pull subscription can go quiet after a server restart; re-bind.
                if self._sub is None or self._bound_at_reconnect != self.bus.reconnects:
                    await self._bind()
                assert self._sub is not None
                msgs = await self._sub.fetch(self.batch_size, timeout=1.0)
            except TimeoutError:  # an empty fetch (nats-py #709)
                continue
            except NotFoundError:  # upstream stream not created yet
                await asyncio.sleep(0.5)
                self._sub = None
                continue
            except Exception:
                if self._stopping:
                    return
                log.exception("consumer %s fetch failed; re-binding", self.durable)
                self._sub = None
                await asyncio.sleep(0.5)
                continue
            for msg in msgs:
                await self.handle(msg)

    def stop(self) -> None:
        self._stopping = True

    async def lag(self) -> dict[str, Any]:
        """The upstream messages this durable consumer has not finished: delivered-but-unacked
        plus not yet delivered (JetStream's own count)."""
        assert self.bus.js is not None
        stream = stream_name(self.bus.region, self.upstream)
        try:
            info = await self.bus.js.consumer_info(stream, self.durable)
        except NotFoundError:  # not bound yet: all the upstream's messages wait
            try:
                waiting = (await self.bus.js.stream_info(stream)).state.messages
            except NotFoundError:  # the upstream has published nothing yet
                waiting = 0
            return {"bound": False, "pending": waiting, "unacknowledged": 0,
                    "handled": self.handled, "dead_lettered": self.dead_lettered,
                    "rejected": self.rejected}
        return {"bound": True, "pending": info.num_pending,
                "unacknowledged": info.num_ack_pending, "handled": self.handled,
                "dead_lettered": self.dead_lettered, "rejected": self.rejected}

    async def close(self) -> None:
        if self._sub is not None:
            with contextlib.suppress(Exception):
                await self._sub.unsubscribe()
            self._sub = None

    async def handle(self, msg: Msg) -> None:
        try:
            env = Envelope.model_validate_json(msg.data)
        except ValidationError as e:
            await self._dead_letter(msg, f"poison message: {e.errors()[:3]}")
            return
        with span(f"{self.app.name} handle {env.type}", dict(msg.headers or {}),
                  trace.SpanKind.CONSUMER, upstream=env.source, position=str(env.position)):
            delivered = (msg.metadata.num_delivered if msg.metadata else None) or 1
            try:
                applied = await asyncio.to_thread(self.deliver, env, msg.subject)
            except ChainGap as e:
                if delivered >= self.max_deliver:
                    await self._reject(msg, env, e.reason, e.expected_prev)
                else:
                    await msg.nak(delay=self.backoff_s * 2 ** (delivered - 1))
                return
            except Rejected as e:
                await self._reject(msg, env, e.reason, e.expected_prev)
                return
            except DomainError as e:  # a rule says no: retrying cannot help
                await asyncio.to_thread(self._advance_head, env)
                await self._dead_letter(msg, f"{e.code}: {e.message}")
                return
            except Exception as e:
                if delivered >= self.max_deliver:
                    await asyncio.to_thread(self._advance_head, env)
                    await self._dead_letter(msg, f"gave up after {delivered} deliveries: {e!r}")
                else:
                    log.warning("consumer %s: %r, retry %d", self.durable, e, delivered)
                    await msg.nak(delay=self.backoff_s * 2 ** (delivered - 1))
                return
        await msg.ack()
        if applied:
            self.handled += 1

    def deliver(self, env: Envelope, subject: str | None = None) -> bool:
        """One copy through the path every JetStream message takes: verified, linked to its
        aggregate's chain, handled once (False: a redelivery, no second effect). Raises
        Rejected (or ChainGap) for a copy that is refused. Blocking; `subject` is the wire's,
        the envelope's own where there is no wire (tests, tools)."""
        # Nothing from an unverified copy reaches a handler (and credentials that let
        # someone publish do not let them sign).
        if reason := self.verify(env.subject if subject is None else subject, env):
            raise Rejected(reason)
        return self._apply(env)

    def verify(self, subject: str, env: Envelope) -> str | None:
        return refusal(self.trust, self.upstream, subject, env)

    async def _reject(self, msg: Msg, env: Envelope, reason: str, expected_prev: str) -> None:
        on_reject = self.handlers.get(REJECTED)
        if on_reject is not None:
            try:
                await asyncio.to_thread(self._record_rejection, on_reject, env, reason,
                                        expected_prev)
            except Exception as e:  # the alarm must not be lost: retry the copy
                log.warning("consumer %s: recording a rejection failed: %r", self.durable, e)
                await msg.nak(delay=self.backoff_s)
                return
        self.rejected += 1
        await self._dead_letter(msg, f"rejected: {reason}", rejected=reason)

    def _record_rejection(self, on_reject: RejectHandler, env: Envelope, reason: str,
                          expected_prev: str) -> None:
        with self.app.unit_of_work():
            on_reject(env, reason, expected_prev)

    def _link(self, session: Any, env: Envelope) -> None:
        """Raise unless the copy links to the last head held for its aggregate."""
        agg = str(env.aggregate_id)
        head = self.app.upstream_head(session, env.source, agg)
        expected = head[0] if head else GENESIS_HASH
        if env.prev_hash == expected:
            return
        # Handled before heads were kept: the link is to a copy this consumer handled.
        if head is None and self.app.handled_with_hash(session, env.source, env.prev_hash):
            return
        if head is None or env.position > head[1]:
            raise ChainGap("prev_hash_mismatch", expected)
        raise Rejected("prev_hash_mismatch", expected)

    def _advance_head(self, env: Envelope) -> None:
        """A verified copy whose handler failed for good still moves the head past it, so
        its aggregate's next link is not refused."""
        with contextlib.suppress(Rejected), self.app.unit_of_work() as session:
            self._link(session, env)
            self.app.set_upstream_head(session, env.source, str(env.aggregate_id), env.hash,
                                       env.position)

    def _apply(self, env: Envelope) -> bool:
        # The content's own hash, not the stated one: a copy edited in place keeps its
        # stated hash, and must still not pass for a redelivery.
        digest = env.computed_hash()
        with self.app.unit_of_work() as session:
            handled = self.app.handled_hash(session, env.source, env.position)
            if handled is not None:
                if handled == digest:
                    return False  # a redelivery or a replay: no second effect
                # Another copy at a handled position: tampering or a forked publisher.
                on_conflict = self.handlers.get(CONFLICT)
                if on_conflict is None:
                    raise DomainError("bus.conflicting_copy",
                                      f"{env.source}:{env.position} differs from the copy "
                                      f"handled before ({handled[:12]}... vs {digest[:12]}...)")
                on_conflict(env)
                return False
            self._link(session, env)
            handler = self.handlers.get(env.type) or self.handlers.get("*")
            if handler is not None:
                handler(env)
            self.app.record_handled(session, env.source, env.position, env.type, digest)
            self.app.set_upstream_head(session, env.source, str(env.aggregate_id), digest,
                                       env.position)
        return True

    async def _dead_letter(self, msg: Msg, reason: str, rejected: str | None = None) -> None:
        assert self.bus.js is not None
        headers = {  # header values must be ASCII
            "Sa-Dead-Reason": reason.encode("ascii", "backslashreplace").decode()[:1000],
            "Sa-Original-Subject": msg.subject,
            "Sa-Consumer": self.durable,
            "Sa-Deliveries": str(msg.metadata.num_delivered if msg.metadata else 0),
        }
        if rejected:
            headers["Sa-Rejected"] = rejected
        await self.bus.js.publish(
            deadletter_subject(self.bus.region, self.app.name, self.upstream), msg.data,
            headers=headers,
        )
        await msg.term()
        self.dead_lettered += 1
        log.error("consumer %s dead-lettered %s: %s", self.durable, msg.subject, reason)


async def dead_letters(bus: Bus, limit: int = 100) -> list[dict[str, Any]]:
    """The newest dead letters, for the operator (also readable with the nats CLI)."""
    assert bus.js is not None
    name = deadletter_stream(bus.region)
    try:
        info = await bus.js.stream_info(name)
    except NotFoundError:
        return []
    if not info.state.messages:
        return []
    out: list[dict[str, Any]] = []
    last = info.state.last_seq
    for seq in range(max(info.state.first_seq, last - limit + 1), last + 1):
        try:
            m = await bus.js.get_msg(name, seq)
        except NotFoundError:
            continue
        out.append({"seq": seq, "subject": m.subject,
                    "headers": {k: str(v) for k, v in (m.headers or {}).items()},
                    "data": (m.data or b"").decode(errors="replace")})
    return out


async def stream_size(js: JetStreamContext, region: str, source: str) -> int:
    """Messages in one service's stream now (0 if it has none yet): a rebuild's total."""
    try:
        return int((await js.stream_info(stream_name(region, source))).state.messages)
    except NotFoundError:
        return 0


def _accepted(trust: TrustList, source: str, msgs: list[tuple[int, str, bytes]],
              ) -> list[Envelope]:
    """The copies of a fetched batch the live consumer would accept (blocking: a worker
    thread's, where the signature checks run without the GIL)."""
    out = []
    for seq, subject, data in msgs:
        try:
            env = Envelope.model_validate_json(data)
        except ValidationError:  # the live consumer dead-letters poison messages
            log.warning("read_stream skips unreadable %s message %d", source, seq)
            continue
        if reason := refusal(trust, source, subject, env):
            log.warning("read_stream skips %s message %d: %s", source, seq, reason)
            continue
        out.append(env)
    return out


async def read_stream(js: JetStreamContext, region: str, source: str, batch: int,
                      trust: TrustList, prefetch: int = 2) -> AsyncIterator[list[Envelope]]:
    """One service's stream from its first message to its last at the start of the call;
    only the copies the live consumer would accept (its alarms are archive's own events).
    Up to `prefetch` batches are fetched and verified ahead, in a worker thread, while the
    caller handles the one yielded."""
    name = stream_name(region, source)
    try:
        info = await js.stream_info(name)
    except NotFoundError:
        return
    last = info.state.last_seq
    if info.state.messages == 0:
        return
    sub = await js.pull_subscribe(
        service_subjects(region, source), stream=name,
        config=ConsumerConfig(ack_policy=AckPolicy.NONE, deliver_policy=DeliverPolicy.ALL,
                              inactive_threshold=60.0))
    ready: asyncio.Queue[list[Envelope] | Exception | None] = asyncio.Queue(max(1, prefetch))

    async def produce() -> None:
        try:
            seq = 0
            while seq < last:
                try:
                    msgs = await sub.fetch(batch, timeout=2.0)
                except TimeoutError:
                    break
                taken = []
                for m in msgs:
                    seq = m.metadata.sequence.stream
                    if seq > last:
                        break
                    taken.append((seq, m.subject, m.data))
                out = await asyncio.to_thread(_accepted, trust, source, taken)
                if out:
                    await ready.put(out)
            await ready.put(None)
        except Exception as e:  # the caller raises it
            await ready.put(e)

    producer = asyncio.create_task(produce(), name=f"read_stream {source}")
    try:
        while (item := await ready.get()) is not None:
            if isinstance(item, Exception):
                raise item
            yield item
    finally:
        producer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await producer
        await sub.unsubscribe()
