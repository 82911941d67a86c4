"""Point-in-time equivalence (issue 16): an aggregate's state derived from archive's copy at
an instant equals the owning service's `repository.get(id, version=…)` at the version that
instant reached."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import select

from shared.audit import state_of, withheld_of
from shared.contracts import Envelope
from shared.runtime import ServiceRuntime
from tests.support.web import client


async def assert_equivalent(archive: ServiceRuntime, owner: ServiceRuntime,
                            aggregate_ids: list[str], headers: dict[str, str]) -> int:
    """Compares at every event's instant and just before each; returns the comparisons."""
    t = archive.app.views.envelopes
    source = owner.settings.service
    compared = 0
    async with client(archive) as audit:
        for agg in aggregate_ids:
            with archive.app.read_session() as s:
                envelopes = [Envelope.model_validate_json(b) for b in s.execute(
                    select(t.c.body).where(t.c.source == source, t.c.aggregate_id == agg)
                ).scalars()]
            assert envelopes, agg
            instants = sorted({e.occurred_at for e in envelopes}
                              | {e.occurred_at - timedelta(microseconds=1) for e in envelopes})
            for at in instants:
                r = await audit.get(f"/audit/aggregates/{source}/{agg}/state",
                                    params={"at": at.isoformat()}, headers=headers)
                assert r.status_code == 200, r.text
                got = r.json()
                if got["version"] == 0:
                    assert at < min(e.occurred_at for e in envelopes)
                    continue
                aggregate: Any = owner.app.repository.get(UUID(agg), version=got["version"])
                withheld = withheld_of(type(aggregate))
                expected = {k: v for k, v in state_of(aggregate, withheld).items()
                            if v is not None}
                assert got["state"] == expected, (agg, at, got["version"])
                compared += 1
    return compared
