"""The pipes, end to end against a real nats-server, on SQLite and on PostgreSQL:
an application accepted in intake opens a review case in review, exactly once."""

from __future__ import annotations

from datetime import date
from typing import Any

import nats
import pytest

from shared.auth import Role, TokenIssuer
from shared.bus import OutboxRelay, stream_name
from shared.contracts import Envelope, verify_chain
from tests.support.flow import count_cases, review_case, stream_envelopes, submit_and_accept
from tests.support.places import YELIN
from tests.support.signing import sealed
from tests.support.stack import eventually
from tests.support.web import client

pytestmark = pytest.mark.nats

async def test_acceptance_opens_a_review_case(services: Any, issuer: TokenIssuer) -> None:
    intake, review = await services("intake"), await services("review")
    application_id = await submit_and_accept(intake, issuer)

    case = await review_case(review, issuer, application_id)
    assert case["kind"] == "dibao" and case["township"] == YELIN
    assert date.fromisoformat(case["decision_due"]) > date.fromisoformat(case["accepted_on"])
    assert await count_cases(review, issuer) == 1


async def test_relay_down_between_commit_and_publish_loses_nothing(
        services: Any, issuer: TokenIssuer, nats_server: Any) -> None:
    intake = await services("intake", relay_enabled=False)
    review = await services("review")
    application_id = await submit_and_accept(intake, issuer)  # committed, not published

    relay = OutboxRelay(intake.app, intake.bus, intake.to_integration)
    real_advance = intake.app.advance_relay
    crashes = []

    def crash_after_publish(*args: Any) -> None:
        crashes.append(args)
        raise RuntimeError("relay killed after publish, before recording its position")

    intake.app.advance_relay = crash_after_publish  # type: ignore[method-assign]
    with pytest.raises(RuntimeError):
        await relay.publish_pending()
    assert crashes, "the relay published before it was killed"
    first_pass = await stream_envelopes(nats_server.url, "intake")

    intake.app.advance_relay = real_advance  # type: ignore[method-assign]
    restarted = OutboxRelay(intake.app, intake.bus, intake.to_integration)
    assert await restarted.publish_pending() == 2  # republishes the same two events
    assert await restarted.publish_pending() == 0  # and resumes from its position

    second_pass = await stream_envelopes(nats_server.url, "intake")
    assert [e.hash for e in second_pass] == [e.hash for e in first_pass]  # de-duplicated
    assert len(second_pass) == 2
    assert verify_chain(second_pass).ok

    await review_case(review, issuer, application_id)
    assert await count_cases(review, issuer) == 1


async def test_redelivered_message_has_no_second_effect(
        services: Any, issuer: TokenIssuer, nats_server: Any) -> None:
    intake, review = await services("intake"), await services("review")
    application_id = await submit_and_accept(intake, issuer)
    await review_case(review, issuer, application_id)
    events_before = review.app.recorder.max_notification_id()

    accepted = next(e for e in await stream_envelopes(nats_server.url, "intake")
                    if e.type == "application_accepted")
    nc = await nats.connect(nats_server.url)
    # A new Nats-Msg-Id slips past JetStream's de-duplication: only tracking stops it.
    await nc.jetstream().publish(accepted.subject, accepted.to_bytes(),
                                 headers={"Nats-Msg-Id": "replayed-by-test"})
    await nc.close()
    consumer = review.consumers[0]
    handled_before = consumer.handled

    async def acked() -> bool:
        info = await review.bus.js.consumer_info(stream_name("469028", "intake"),
                                                 consumer.durable)
        return (info.num_ack_pending == 0 and info.num_pending == 0
                and info.delivered.stream_seq == 3)
    await eventually(acked)

    assert consumer.handled == handled_before
    assert review.app.recorder.max_notification_id() == events_before
    assert await count_cases(review, issuer) == 1


async def test_trace_of_the_accepting_request_continues_in_review(
        services: Any, issuer: TokenIssuer, span_exporter: Any) -> None:
    intake, review = await services("intake"), await services("review")
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    traceparent = f"00-{trace_id}-00f067aa0ba902b7-01"
    application_id = await submit_and_accept(intake, issuer, {"traceparent": traceparent})
    await review_case(review, issuer, application_id)

    def spans_named(prefix: str) -> list[Any]:
        return [s for s in span_exporter.get_finished_spans()
                if s.name.startswith(prefix) and format(s.context.trace_id, "032x") == trace_id]

    await eventually(lambda: spans_named("review handle application_accepted"))
    assert spans_named("POST /applications/")  # the HTTP request itself
    assert spans_named("intake.store.save")  # the store write
    assert spans_named("publish sa.469028.intake.application_accepted")  # the relay
    assert spans_named("review.store.save")  # and the case opened in review


async def test_a_different_copy_at_a_handled_position_is_dead_lettered(
        services: Any, issuer: TokenIssuer, nats_server: Any) -> None:
    intake, review = await services("intake"), await services("review")
    application_id = await submit_and_accept(intake, issuer)
    await review_case(review, issuer, application_id)
    events_before = review.app.recorder.max_notification_id()

    accepted = next(e for e in await stream_envelopes(nats_server.url, "intake")
                    if e.type == "application_accepted")
    # Edited in place: refused on its own hash. Re-sealed with intake's key (a forked
    # publisher): a conflict with the copy handled at that position.
    edited = Envelope.model_validate({**accepted.model_dump(mode="json"),
                                      "data": {**accepted.data, "applicant_name": "某某"}})
    fields = {k: getattr(accepted, k) for k in Envelope.model_fields
              if k not in ("hash", "prev_hash", "kid", "sig")}
    fork = sealed(accepted.prev_hash, **{**fields, "data": edited.data})
    nc = await nats.connect(nats_server.url)
    for i, forged in enumerate((edited, fork)):
        await nc.jetstream().publish(forged.subject, forged.to_bytes(),
                                     headers={"Nats-Msg-Id": f"forged-by-test-{i}"})
    await nc.close()

    consumer = review.consumers[0]
    await eventually(lambda: consumer.dead_lettered == 2)
    operator = {"authorization": "Bearer " + issuer.mint("centre-1", Role.COUNTY_CENTRE)}
    letters = (await client(review).get("/ops/dead-letters", headers=operator)).json()
    assert letters[-2]["headers"]["Sa-Dead-Reason"] == "rejected: hash_mismatch"
    assert letters[-1]["headers"]["Sa-Dead-Reason"].startswith("bus.conflicting_copy")
    assert review.app.recorder.max_notification_id() == events_before
