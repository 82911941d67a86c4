"""Publicity over the real nats-server, on SQLite and on PostgreSQL: review's envelopes are
published onto review's stream exactly as review's relay would, publicity's tracked
consumer posts the notice, its scheduler closes it by the (manual) clock, and its relay
publishes the outcome that review consumes. Also: a window that ends while the service is
down closes at startup, dated as if nothing had been down."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import date
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import nats
import pytest
from nats.js.errors import NotFoundError

from services.publicity.main import PublicityRuntime
from shared.auth import Role, TokenIssuer
from shared.bus import Bus, stream_name
from shared.clock import ManualClock
from shared.contracts import Envelope, parse_data, verify_chain
from shared.contracts.publicity import NoticeClosed, NoticeOpened
from tests.support.infra import NatsServer
from tests.support.places import YELIN
from tests.support.publicity import MONDAY, ReviewStream, build_publicity, days, opinion
from tests.support.stack import eventually, publish, reset_jetstream
from tests.support.web import client

pytestmark = pytest.mark.nats

Start = Callable[..., Awaitable[PublicityRuntime]]


@pytest.fixture
async def start(request: pytest.FixtureRequest, backend: str, tmp_path: Path,
                keys_dir: Path, nats_server: NatsServer) -> AsyncIterator[Start]:
    """Starts publicity on this test's backend; review's stream exists as review makes it."""
    await reset_jetstream(nats_server.url)
    review = Bus(nats_server.url, "review-under-test", "469028")
    await review.connect()
    await review.ensure_stream("review", 60.0)
    await review.close()
    database_url = request.getfixturevalue("postgres_url") if backend == "postgres" else None
    running: list[PublicityRuntime] = []

    async def starter(clock: ManualClock, **overrides: Any) -> PublicityRuntime:
        rt = build_publicity(tmp_path, keys_dir, nats_server.url, database_url, clock,
                             **{"scheduler_interval_s": 0.1, **overrides})
        await rt.start()
        running.append(rt)
        return rt

    yield starter
    for rt in reversed(running):
        if rt.bus.connected:
            await rt.stop()


async def publicity_events(url: str) -> list[Envelope]:
    nc = await nats.connect(url)
    js = nc.jetstream()
    try:
        info = await js.stream_info(stream_name("469028", "publicity"))
        if not info.state.messages:
            return []
        return [Envelope.model_validate_json((await js.get_msg(info.config.name, seq)).data)
                for seq in range(info.state.first_seq, info.state.last_seq + 1)]
    except NotFoundError:
        return []
    finally:
        await nc.close()


async def published(url: str, type_: str, count: int = 1) -> list[Envelope]:
    async def probe() -> list[Envelope] | None:
        found = [e for e in await publicity_events(url) if e.type == type_]
        return found if len(found) >= count else None
    return await eventually(probe)


async def on_board(rt: PublicityRuntime, notice_id: UUID) -> dict[str, Any]:
    async with client(rt) as http:
        async def probe() -> dict[str, Any] | None:
            r = await http.get(f"/public/notices/{notice_id}")
            return r.json() if r.status_code == 200 else None
        return await eventually(probe)


async def test_opinion_is_posted_and_closes_clean_for_confirmation(
        start: Start, nats_server: NatsServer) -> None:
    clock = ManualClock(MONDAY)
    rt = await start(clock)
    stream, case_id = ReviewStream(), uuid4()
    await publish(nats_server.url, [stream.envelope(
        opinion(case_id, household_id="hh-1"), case_id, household_id="hh-1")])
    notice_id = rt.app.notice_id(case_id, "opinion", 1)
    shown = await on_board(rt, notice_id)
    assert (shown["name"], shown["ends_on"]) == ("黎**", "2025-03-10")

    opened = parse_data((await published(nats_server.url, "notice_opened"))[0])
    assert isinstance(opened, NoticeOpened)
    assert (opened.case_id, opened.round, opened.starts_on, opened.ends_on) == (
        case_id, 1, date(2025, 3, 3), date(2025, 3, 10))

    clock.advance(days(7))  # the last day: still posted
    await rt.scheduler.sweep()
    assert rt.app.get(notice_id).is_open
    clock.advance(days(1))  # Tuesday 11 March: the running scheduler closes it
    closed_env = (await published(nats_server.url, "notice_closed"))[0]
    closed = parse_data(closed_env)
    assert isinstance(closed, NoticeClosed)
    # What review needs to confirm the case: which case, which round, clean, when.
    assert (closed.case_id, closed.round, closed.outcome, closed.closed_on) == (
        case_id, 1, "clean", date(2025, 3, 11))
    assert closed_env.case_id == str(case_id) and closed_env.household_id == "hh-1"
    assert closed_env.actor is not None and closed_env.actor.role == "system"
    assert verify_chain(await publicity_events(nats_server.url)).ok


async def test_upheld_objection_sends_the_case_back_and_a_fresh_notice_follows(
        start: Start, nats_server: NatsServer, issuer: TokenIssuer) -> None:
    clock = ManualClock(MONDAY)
    rt = await start(clock)
    stream, case_id = ReviewStream(), uuid4()
    await publish(nats_server.url, [stream.envelope(opinion(case_id), case_id)])
    first = rt.app.notice_id(case_id, "opinion", 1)
    await on_board(rt, first)

    leader = {"authorization": "Bearer " + issuer.mint("lead-yelin", Role.TOWNSHIP_LEADER,
                                                       YELIN)}
    async with client(rt) as http:
        r = await http.post(f"/public/notices/{first}/objections",
                            json={"text": "她儿子在三亚打工月入六千", "contact": "13900002222"})
        assert r.status_code == 201, r.text
        oid = r.json()["objection_id"]
        clock.advance(days(2))
        r = await http.post(f"/notices/{first}/objections/{oid}/resolution",
                            json={"upheld": True, "finding": "赡养人收入未计入，需重新核算"},
                            headers=leader)
        assert r.status_code == 200 and r.json()["outcome"] == "objection_upheld", r.text

    closed = parse_data((await published(nats_server.url, "notice_closed"))[0])
    assert isinstance(closed, NoticeClosed)
    assert (closed.outcome, closed.finding, closed.closed_on) == (
        "objection_upheld", "赡养人收入未计入，需重新核算", date(2025, 3, 5))
    filed = (await published(nats_server.url, "objection_filed"))[0]
    assert "三亚" not in filed.model_dump_json() and "13900002222" not in filed.model_dump_json()
    resolved = (await published(nats_server.url, "objection_resolved"))[0]
    assert resolved.data["upheld"] is True and resolved.actor is not None
    assert resolved.actor.user_id == "lead-yelin"

    # Review re-investigates and issues round 2: a fresh 7-day notice from that day.
    await publish(nats_server.url, [stream.envelope(
        opinion(case_id, round_=2, monthly_amount="320"), case_id)])
    second = await on_board(rt, rt.app.notice_id(case_id, "opinion", 2))
    assert (second["monthly_amount"], second["starts_on"], second["ends_on"]) == (
        "320.00", "2025-03-05", "2025-03-12")
    reopened = await published(nats_server.url, "notice_opened", 2)
    assert [parse_data(e).round for e in reopened] == [1, 2]  # type: ignore[attr-defined]


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_window_that_ended_while_down_closes_at_startup(
        start: Start, nats_server: NatsServer) -> None:
    clock = ManualClock(MONDAY)
    rt = await start(clock)
    stream, ended, running = ReviewStream(), uuid4(), uuid4()
    await publish(nats_server.url, [stream.envelope(opinion(ended), ended)])
    await on_board(rt, rt.app.notice_id(ended, "opinion", 1))
    clock.advance(days(5))
    await publish(nats_server.url, [stream.envelope(opinion(running), running)])
    await on_board(rt, rt.app.notice_id(running, "opinion", 1))
    await published(nats_server.url, "notice_opened", 2)
    await rt.stop()

    clock.advance(days(5))  # down from Saturday 8th to Thursday 13th
    # An hour between sweeps: only the startup sweep can close anything in this test.
    again = await start(clock, scheduler_interval_s=3600)
    first = again.app.get(again.app.notice_id(ended, "opinion", 1))
    assert (first.status, first.outcome, first.closed_on) == ("closed", "clean",
                                                              date(2025, 3, 11))
    assert again.app.get(again.app.notice_id(running, "opinion", 1)).is_open  # ends 15th
    closed = await published(nats_server.url, "notice_closed")
    assert [parse_data(e).closed_on for e in closed] == [  # type: ignore[attr-defined]
        date(2025, 3, 11)]
