"""Several replicas of a service on one PostgreSQL: exactly one relay publishes, and a
standby takes over when the active one's lease connection dies. (tests/deploy covers the
same with real processes killed by SIGKILL.)"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from shared.checkpoint import SYSTEM_ACTOR, ChainCheckpoint
from shared.eventstore import StaleRelay
from tests.support.flow import submit_and_accept
from tests.support.stack import build_service, eventually, reset_jetstream

pytestmark = [pytest.mark.postgres, pytest.mark.nats]


class WatchedLease:
    """A relay's lease that counts its attempts and sees it disposed, so the test waits on
    what happened instead of sleeping."""

    def __init__(self, lease: Any) -> None:
        self.lease, self.attempts, self.disposed = lease, 0, False

    def acquire(self) -> bool:
        held = bool(self.lease.acquire())
        self.attempts += 1
        return held

    def dispose(self) -> None:
        self.lease.dispose()
        self.disposed = True

    def __getattr__(self, name: str) -> Any:
        return getattr(self.lease, name)


async def test_one_active_relay_and_failover(postgres_url: str, tmp_path: Path,
                                             keys_dir: Path, nats_server: Any,
                                             issuer: Any, span_exporter: Any) -> None:
    await reset_jetstream(nats_server.url)
    kw = {"tmp": tmp_path, "keys_dir": keys_dir, "nats_url": nats_server.url,
          "database_url": postgres_url, "relay_lease_retry_s": 0.1}
    replicas = [build_service("intake", **kw), build_service("intake", **kw)]
    leases = []
    for rt in replicas:
        await rt.start()
        rt.relay.lease = WatchedLease(rt.relay.lease)
        leases.append(rt.relay.lease)
    try:
        await eventually(lambda: any(rt.relay.active for rt in replicas))
        # Every replica tries for the lease a few more times: a second holder would show.
        tried = [lease.attempts for lease in leases]
        await eventually(lambda: all(lease.attempts >= n + 3
                                           for lease, n in zip(leases, tried, strict=True)))
        active = [rt for rt in replicas if rt.relay.active]
        assert len(active) == 1
        leader, standby = active[0], next(rt for rt in replicas if rt is not active[0])
        await submit_and_accept(standby, issuer)  # written on one replica, published by the other
        await eventually(lambda: leader.relay.published == 2)
        assert standby.relay.published == 0

        leader.relay.stop()
        await eventually(lambda: leader.relay.lease.disposed)  # its loop ended
        leader.relay.lease.release()  # its connection died
        await submit_and_accept(standby, issuer)
        await eventually(lambda: standby.relay.published == 2)
        assert standby.relay.active
    finally:
        for rt in replicas:
            await rt.stop()


async def test_the_relay_position_is_fenced(postgres_url: str, tmp_path: Path,
                                            keys_dir: Path, nats_server: Any,
                                            span_exporter: Any) -> None:
    """A relay that lost the lease mid-batch cannot rewind the position, nor seal (and so
    move chain heads) from a position another relay has moved past."""
    kw = {"tmp": tmp_path, "keys_dir": keys_dir, "nats_url": nats_server.url,
          "database_url": postgres_url}
    app = build_service("intake", **kw).app
    sealer, app.sealer = app.sealer, None  # a writer without a sealer: the relay seals
    assert sealer is not None
    cp = ChainCheckpoint(source="intake", seq=99, position=0, previous_position=0,
                         previous_hash=None, aggregates=0, heads=[], actor=SYSTEM_ACTOR)
    app.save(cp)
    at = app.recorder.max_notification_id()
    app.advance_relay("intake->nats", 0, 10)
    app.advance_relay("intake->nats", 10, 20)
    with pytest.raises(StaleRelay):
        app.advance_relay("intake->nats", 10, 15)  # the stale one
    assert app.relay_position("intake->nats") == 20
    with pytest.raises(StaleRelay):
        sealer.seal_backlog("intake->nats", 10, at, at)  # the stale one again
    assert app.chain_heads([str(cp.id)]) == {}
    assert sealer.seal_backlog("intake->nats", 20, at, at) == 1  # the current one
    assert list(app.chain_heads([str(cp.id)])) == [str(cp.id)]
    app.close()
