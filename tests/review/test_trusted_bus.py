"""A trusted bus over a real nats-server (issue 17): review and archive consume intake's
stream, stood in for here by a double that signs with intake's key. Forged, tampered,
re-signed-by-another-service and off-chain copies are refused before any effect (review
opens no case, archive stores nothing), dead-lettered with their reason and named by an
archive chain alarm; a replay is harmless; a pre-empted message id halts the relay loudly
instead of dropping the event."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import uuid4

import nats
import pytest
import sqlalchemy as sa
from nats.js import JetStreamContext

from shared.auth import Role
from shared.bus import Bus, OutboxRelay, RelayHalted
from shared.contracts import GENESIS_HASH, Envelope
from shared.fieldcrypt import Keyring
from shared.runtime import ServiceRuntime
from shared.signing import BusSigner
from tests.support import actors
from tests.support.infra import NatsServer
from tests.support.places import YELIN
from tests.support.review import acceptance
from tests.support.signing import signer
from tests.support.stack import Services, build_service, eventually, reset_jetstream
from tests.support.web import client

pytestmark = pytest.mark.nats

CLERK = actors.CLERK.as_actor()
REGION = "469028"


def accepted_envelope(keyring: Keyring, position: int, prev: str = GENESIS_HASH,
                      by: BusSigner | None = None, **override: Any) -> Envelope:
    event = acceptance(keyring)
    return Envelope.sealed(
        prev, signer=by or signer("intake"), event_id=uuid4(), type=event.TYPE,
        version=event.VERSION, source="intake", region=REGION,
        aggregate_id=event.application_id, aggregate_version=1, position=position,
        occurred_at=datetime.now(UTC), actor=CLERK, case_id=str(event.application_id),
        township=YELIN, data=event.model_dump(mode="json"), **override)


@pytest.fixture
async def world(tmp_path: Path, keys_dir: Path, nats_server: NatsServer, span_exporter: Any,
                ) -> AsyncIterator[tuple[ServiceRuntime, ServiceRuntime, JetStreamContext]]:
    await reset_jetstream(nats_server.url)
    bus = Bus(nats_server.url, "test-intake", REGION)
    await bus.connect()
    await bus.ensure_stream("intake", 3600)
    await bus.close()
    review = build_service("review", tmp=tmp_path / "review", keys_dir=keys_dir,
                           nats_url=nats_server.url, database_url=None)
    archive = build_service("archive", tmp=tmp_path / "archive", keys_dir=keys_dir,
                            nats_url=nats_server.url, database_url=None)
    await review.start()
    await archive.start()
    nc = await nats.connect(nats_server.url)
    yield review, archive, nc.jetstream()
    await nc.close()
    await archive.stop()
    await review.stop()


def cases(review: ServiceRuntime) -> int:
    return len([e for _, e in review.app.iter_domain_events()
                if type(e).__qualname__ == "ReviewCase.Opened"])


def archived(archive: ServiceRuntime, source: str = "intake") -> int:
    t = archive.app.views.envelopes  # type: ignore[attr-defined]
    with archive.app.read_session() as s:
        return int(s.execute(sa.select(sa.func.count()).select_from(t)
                             .where(t.c.source == source)).scalar_one())


async def publish(js: JetStreamContext, env: Envelope | bytes, subject: str | None = None,
                  msg_id: str | None = None) -> None:
    data = env if isinstance(env, bytes) else env.to_bytes()
    subject = subject or (env.subject if isinstance(env, Envelope) else "")
    await js.publish(subject, data, headers={"Nats-Msg-Id": msg_id or str(uuid4())})


async def alarms(archive: ServiceRuntime, bureau: dict[str, str]) -> dict[int, str]:
    async with client(archive) as http:
        items = (await http.get("/audit/alarms", headers=bureau)).json()["items"]
    return {a["position"]: a["reason"] for a in items}


async def test_forged_tampered_and_replayed_copies_have_no_effect(
        world: tuple[ServiceRuntime, ServiceRuntime, JetStreamContext], keyring: Keyring,
        as_: Any) -> None:
    review, archive, js = world
    bureau = as_(Role.COUNTY_BUREAU)
    thief = BusSigner.generate("intake")  # a key of the attacker's own
    intake_kid = signer("intake").kid
    good = accepted_envelope(keyring, 1)
    eighth = accepted_envelope(keyring, 8)
    ours = eighth.model_copy(update={"sig": thief.sign(eighth.hash)})  # intake's kid
    forged = {
        2: accepted_envelope(keyring, 2, by=thief),  # signed, by a key nobody trusts
        3: accepted_envelope(keyring, 3).model_copy(update={"kid": None, "sig": None}),
        4: accepted_envelope(keyring, 4).model_copy(update={"hash": "f" * 64}),
        5: accepted_envelope(keyring, 5, by=signer("review")),  # review's key, intake's name
        6: Envelope.model_validate({**accepted_envelope(keyring, 6).model_dump(mode="json"),
                                    "data": {**acceptance(keyring).model_dump(mode="json")}}),
        7: accepted_envelope(keyring, 7, prev="1" * 64),  # off its chain (validly signed)
        8: ours,
    }
    assert forged[8].kid == intake_kid
    for env in forged.values():
        await publish(js, env)
    # An intake-signed envelope published on review's subjects: its subject gives it away.
    wrong = accepted_envelope(keyring, 9)
    await publish(js, wrong, subject="sa.469028.intake.case_opened")

    expected = {2: "unknown_key", 3: "unsigned", 4: "hash_mismatch", 5: "wrong_signer",
                6: "hash_mismatch", 7: "prev_hash_mismatch", 8: "bad_signature",
                9: "subject_mismatch"}
    got = await eventually(lambda: _when(alarms(archive, bureau), len(expected)), timeout=30)
    assert got == expected
    assert cases(review) == 0 and archived(archive) == 0
    rejected = review.consumers[0]
    await eventually(lambda: rejected.rejected == len(expected), timeout=10)
    operator = as_(Role.COUNTY_CENTRE)
    async with client(review) as http:
        letters = (await http.get("/ops/dead-letters", headers=operator)).json()
    assert sorted(m["headers"]["Sa-Rejected"] for m in letters
                  if m["headers"].get("Sa-Consumer") == "review-from-intake") == \
        sorted(expected.values())

    # The real envelope still works; replayed under another id it has no second effect.
    await publish(js, good, msg_id=good.msg_id)
    await eventually(lambda: cases(review) == 1, timeout=15)
    events = review.app.recorder.max_notification_id()
    await publish(js, good, msg_id="replayed")
    await eventually(lambda: archived(archive) == 1, timeout=10)
    await eventually(lambda: _lag_empty(rejected), timeout=10)
    assert cases(review) == 1 and review.app.recorder.max_notification_id() == events
    # Archive kept publishing: every alarm is on its own stream, and it is ready.
    async with client(archive) as http:
        assert (await http.get("/health/ready")).status_code == 200


async def test_a_pre_empted_message_id_halts_the_relay_loudly(
        service: Services, nats_server: NatsServer, as_: Any) -> None:
    review = service.build("review")
    bus = Bus(nats_server.url, "attacker", REGION)
    await bus.connect()
    try:
        await bus.ensure_stream("review", 3600)
        # The seeded policy versions are committed, not yet published: someone who knew the
        # first envelope's id publishes junk under it.
        probe = OutboxRelay(review.app, bus, review.to_integration)
        first = probe.pending_envelopes(1)[0]
        assert first.msg_id == f"review:{first.position}:{first.hash[:16]}"
        assert bus.js is not None
        await bus.js.publish(first.subject, b'{"junk": true}',
                             headers={"Nats-Msg-Id": first.msg_id})
        with pytest.raises(RelayHalted):
            await probe.publish_pending()
        assert probe.halted and first.msg_id in probe.halted
        assert review.app.relay_position(probe.name) == 0  # never advanced

        await review.start()
        assert review.relay is not None
        await eventually(lambda: review.relay.halted, timeout=10)  # type: ignore[union-attr]
        async with client(review) as http:
            r = await http.get("/health/ready")
            assert r.status_code == 503 and "relay cannot publish" in r.json()["checks"]["relay"]
            backlog = (await http.get("/ops/backlog", headers=as_(Role.COUNTY_CENTRE))).json()
            assert backlog["caught_up"] is False and backlog["relay"]["position"] == 0
            assert first.msg_id in backlog["relay"]["halted"]
            letters = (await http.get("/ops/dead-letters",
                                      headers=as_(Role.COUNTY_CENTRE))).json()
            assert any(m["headers"]["Sa-Dead-Reason"].startswith("relay halted")
                       for m in letters)
    finally:
        await bus.close()


async def test_a_genuine_republish_is_a_harmless_duplicate(
        service: Services, nats_server: NatsServer) -> None:
    review = service.build("review")
    bus = Bus(nats_server.url, "relay", REGION)
    await bus.connect()
    try:
        await bus.ensure_stream("review", 3600)
        crashed = OutboxRelay(review.app, bus, review.to_integration)
        advance = review.app.advance_relay

        def crash(*_: Any) -> None:
            raise RuntimeError("crashed before the position was recorded")
        review.app.advance_relay = crash  # type: ignore[method-assign]
        with pytest.raises(RuntimeError):
            await crashed.publish_pending()
        review.app.advance_relay = advance  # type: ignore[method-assign]
        restarted = OutboxRelay(review.app, bus, review.to_integration)
        assert await restarted.publish_pending() > 0
        assert restarted.halted is None and review.app.relay_position(restarted.name) > 0
        assert bus.js is not None
        info = await bus.js.stream_info("SA_469028_REVIEW")
        assert info.state.messages == restarted.published  # nothing twice
    finally:
        await bus.close()


async def _when(probe: Any, n: int) -> Any:
    got = await probe
    return got if len(got) >= n else None


async def _lag_empty(consumer: Any) -> bool:
    lag = await consumer.lag()
    return bool(lag["pending"] == 0 and lag["unacknowledged"] == 0)


