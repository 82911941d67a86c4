"""NATS authentication and authorization (shared/natsauth.py) against the real nats-server of
the session, which runs with it on: a service's own credentials publish only its own
subjects; stolen credentials without the signing key publish nothing anyone acts on; the
finance bureau reads fund plans and publishes nothing; nobody deletes or purges a stream."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import uuid4

import nats
import pytest

from shared.bus import Bus, stream_name
from shared.contracts import GENESIS_HASH, Actor, Envelope
from shared.contracts.common import SERVICES
from shared.natsauth import (
    FINANCE_BUREAU,
    UPSTREAMS,
    inbox_prefix,
    public_key_of,
    seed_path,
)
from shared.signing import BusSigner
from tests.support.infra import NatsServer
from tests.support.stack import Services, build_service, eventually, reset_jetstream

pytestmark = pytest.mark.nats
REGION = "469028"


async def connect_as(server: NatsServer, user: str, errors: list[str]) -> Any:
    async def on_error(e: Exception) -> None:
        errors.append(str(e))
    return await nats.connect(server.plain_url, nkeys_seed=str(seed_path(server.keys_dir, user)),
                              inbox_prefix=inbox_prefix(user), error_cb=on_error,
                              max_reconnect_attempts=0)


async def messages(server: NatsServer, service: str) -> int:
    nc = await nats.connect(server.url)
    try:
        return int((await nc.jetstream().stream_info(stream_name(REGION, service)))
                   .state.messages)
    finally:
        await nc.close()


def test_the_permission_table_names_what_each_service_consumes(tmp_path: Path,
                                                               keys_dir: Path) -> None:
    for service in SERVICES:
        rt = build_service(service, tmp=tmp_path / service, keys_dir=keys_dir,
                           nats_url="nats://127.0.0.1:1", database_url=None)
        try:
            assert sorted(rt.reactions) == sorted(UPSTREAMS[service]), service
        finally:
            rt.app.close()


def test_nkey_seeds_are_what_nats_reads(keys_dir: Path) -> None:
    import nkeys

    seed = seed_path(keys_dir, "review").read_text().strip()
    assert nkeys.from_seed(bytearray(seed.encode())).public_key.decode() == public_key_of(seed)
    assert seed_path(keys_dir, "review").stat().st_mode & 0o077 == 0


async def test_a_service_publishes_only_on_its_own_subjects(nats_server: NatsServer) -> None:
    await reset_jetstream(nats_server.url)
    for service in ("intake", "review"):
        bus = Bus(nats_server.plain_url, service, REGION,
                  nkey_seed_file=seed_path(nats_server.keys_dir, service))
        await bus.connect()  # each creates its own stream with its own user
        await bus.ensure_stream(service, 3600)
        await bus.close()
    errors: list[str] = []
    nc = await connect_as(nats_server, "intake", errors)
    js = nc.jetstream(timeout=1)
    try:
        ack = await js.publish(f"sa.{REGION}.intake.probe", b"{}")
        assert ack.stream == stream_name(REGION, "intake")
        # Valid credentials, another service's subject: the server drops it.
        with pytest.raises(nats.errors.TimeoutError):
            await js.publish(f"sa.{REGION}.review.case_opened", b"{}")
        with pytest.raises(nats.errors.TimeoutError):
            await js.delete_stream(stream_name(REGION, "intake"))
        with pytest.raises(nats.errors.TimeoutError):  # may not change its stream's limits
            await js.update_stream(name=stream_name(REGION, "intake"),
                                   subjects=[f"sa.{REGION}.intake.>"], max_msgs=1)
        # Nor read another service's deliveries, nor the bus at large.
        await nc.subscribe(f"sa.{REGION}.>")
        await nc.subscribe("_INBOX.>")
        await nc.flush()
        await asyncio.sleep(0.2)
    finally:
        await nc.close()
    assert any("publish to \"sa.469028.review.case_opened\"" in e for e in errors), errors
    assert any("subscription to \"sa.469028.>\"" in e for e in errors), errors
    assert any("subscription to \"_inbox.>\"" in e.lower() for e in errors), errors
    assert await messages(nats_server, "review") == 0
    assert await messages(nats_server, "intake") == 1

    # Even the operator cannot purge the audit record or delete one message of it.
    admin = await nats.connect(nats_server.url)
    try:
        with pytest.raises(nats.js.errors.ServerError, match="purge not permitted"):
            await admin.jetstream().purge_stream(stream_name(REGION, "intake"))
        with pytest.raises(nats.js.errors.ServerError, match="delete not permitted"):
            await admin.jetstream().delete_msg(stream_name(REGION, "intake"), 1)
    finally:
        await admin.close()


async def test_stolen_credentials_without_the_signing_key_have_no_effect(
        service: Services, keys_dir: Path, nats_server: NatsServer) -> None:
    """intake's NATS seed leaked; its signing key did not."""
    review = service.build("review")
    bus = Bus(nats_server.plain_url, "intake", REGION,
              nkey_seed_file=seed_path(keys_dir, "intake"))
    await bus.connect()
    await bus.ensure_stream("intake", 3600)
    await review.start()
    try:
        before = review.app.recorder.max_notification_id()
        application = uuid4()
        forged = Envelope.sealed(
            GENESIS_HASH, signer=BusSigner.generate("intake"), event_id=uuid4(),
            type="application_accepted", version=1, source="intake", region=REGION,
            aggregate_id=application, aggregate_version=1, position=1,
            occurred_at=datetime.now(UTC),
            actor=Actor(user_id="x", role="township_clerk", township="469028100"),
            case_id=str(application), township="469028100", data={"forged": True})
        assert bus.js is not None
        await bus.js.publish(forged.subject, forged.to_bytes(),
                             headers={"Nats-Msg-Id": forged.msg_id})  # NATS lets it in
        consumer = review.consumers[0]
        await eventually(lambda: consumer.rejected == 1, timeout=15)
        assert consumer.handled == 0
        assert review.app.recorder.max_notification_id() == before
    finally:
        await bus.close()


async def test_the_finance_bureau_reads_fund_plans_and_publishes_nothing(
        nats_server: NatsServer) -> None:
    await reset_jetstream(nats_server.url)
    bus = Bus(nats_server.plain_url, "disbursement", REGION,
              nkey_seed_file=seed_path(nats_server.keys_dir, "disbursement"))
    await bus.connect()
    await bus.ensure_stream("disbursement", 3600)
    assert bus.js is not None
    await bus.js.publish(f"sa.{REGION}.disbursement.fund_plan_issued", b"{}")
    await bus.close()

    from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

    errors: list[str] = []
    nc = await connect_as(nats_server, FINANCE_BUREAU, errors)
    js = nc.jetstream(timeout=1)
    try:
        sub = await js.pull_subscribe(
            f"sa.{REGION}.disbursement.fund_plan_issued", durable=FINANCE_BUREAU,
            stream=stream_name(REGION, "disbursement"),
            config=ConsumerConfig(durable_name=FINANCE_BUREAU, ack_policy=AckPolicy.EXPLICIT,
                                  deliver_policy=DeliverPolicy.ALL))
        [msg] = await sub.fetch(1, timeout=5)
        await msg.ack()
        with pytest.raises(nats.errors.TimeoutError):
            await js.publish(f"sa.{REGION}.disbursement.fund_plan_acknowledged", b"{}")
        with pytest.raises(nats.errors.TimeoutError):  # no other subjects of the stream
            await js.pull_subscribe(f"sa.{REGION}.disbursement.roster_locked",
                                    durable="finance-other",
                                    stream=stream_name(REGION, "disbursement"))
    finally:
        await nc.close()
    assert any("fund_plan_acknowledged" in e for e in errors), errors


