"""The relay applies each event to the state it kept from the aggregate's previous event
(issue 23): a live relay, woken per commit, does not replay an aggregate from the store for
every event it maps, and what it publishes is what a replay would give."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bench.relay_throughput import filing
from services.intake.schemas import FilingContent, plain
from services.intake.values import Household
from shared.audit import AuditTrail
from shared.auth import Principal, Role
from shared.bus import Bus, OutboxRelay, stream_name
from shared.contracts import Envelope
from tests.support.infra import NatsServer
from tests.support.places import YELIN
from tests.support.stack import build_service, reset_jetstream

pytestmark = pytest.mark.nats


async def test_live_relay_maps_each_event_from_the_state_it_kept(
        tmp_path: Path, keys_dir: Path, nats_server: NatsServer, span_exporter: Any) -> None:
    await reset_jetstream(nats_server.url)
    rt = build_service("intake", tmp=tmp_path, keys_dir=keys_dir, nats_url=nats_server.url,
                       database_url=None)
    app = rt.app
    replays: list[int | None] = []
    real_get = app.repository.get

    def counting_get(aggregate_id: Any, version: int | None = None, **kw: Any) -> Any:
        replays.append(version)
        return real_get(aggregate_id, version=version, **kw)

    app.repository.get = counting_get  # type: ignore[method-assign]
    bus = Bus(nats_server.url, "probe", "469028")
    await bus.connect()
    try:
        await bus.ensure_stream("intake", 3600)
        relay = OutboxRelay(app, bus, rt.to_integration)
        while await relay.publish_pending():
            pass
        clerk = Principal(user_id="clerk-1", role=Role.TOWNSHIP_CLERK, township=YELIN)
        b = filing(1)
        application_id = app.submit(
            clerk, kind=b.kind, linshi_type=plain(b.linshi_type), township=b.township,
            village=b.village, filed_by=b.filed_by,
            filing=Household.of(plain(b.model_dump(include=set(FilingContent.model_fields)))))
        assert await relay.publish_pending() == 1  # one commit, one batch
        replays.clear()
        app.accept(clerk, application_id)
        assert await relay.publish_pending() == 1
        assert [v for v in replays if v is not None] == []  # mapped without a replay

        # The same envelope as a relay without memory builds (it replays the aggregate).
        accepted = app.notifications(app.recorder.max_notification_id() - 1, 1)
        event = app.mapper.to_domain_event(accepted[0])
        replays.clear()
        fresh = AuditTrail(app, "intake").record(event)
        assert fresh.entry.changes  # accepting changes the application's status
        assert bus.js is not None
        msg = await bus.js.get_last_msg(stream_name("469028", "intake"), "sa.469028.intake.>")
        published = Envelope.model_validate_json(msg.data)
        assert published.audit == fresh.entry
        assert replays == [event.originator_version - 1]  # the fresh trail replayed
    finally:
        await bus.close()
        app.close()
