"""Service replicas on one PostgreSQL store and one NATS, as Kubernetes runs them: real
processes (`python -m tests.support.replica <svc>`, the service's own entry plus the relay
lease proposed for shared/bus.py), settings from the environment as in a pod.

- Two review replicas share the durable consumer of intake's stream: under a burst of
  accepted applications every case is opened exactly once, and both did part of the work.
- Exactly one relay per service publishes; when its process is killed (SIGKILL), the other
  replica takes over within seconds, and the stream has every event once, chain intact.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import nats
import pytest
import sqlalchemy as sa
from eventsourcing.cryptography import AESCipher

from shared.auth import TokenIssuer
from shared.bus import stream_name
from shared.contracts import verify_chain
from shared.lease import lease_key
from shared.pii import Keyring
from tests.support.flow import clerk, filing, stream_envelopes
from tests.support.infra import NatsServer, free_port
from tests.support.settings import ROOT
from tests.support.stack import build_service, eventually, reset_jetstream
from tests.support.web import client

pytestmark = [pytest.mark.nats, pytest.mark.postgres, pytest.mark.slow]


class Replica:
    """One replica process of a service, configured only through its environment."""

    def __init__(self, service: str, tmp: Path, keys: Path, nats_url: str, database_url: str,
                 **settings: str) -> None:
        self.service, self.port = service, free_port()
        p = service.upper() + "_"
        env = {
            "DATABASE_URL": database_url, "NATS_URL": nats_url, "HTTP_HOST": "127.0.0.1",
            "HTTP_PORT": str(self.port), "VAR_DIR": str(tmp),
            "ENCRYPT_AT_REST": "true", "CIPHER_KEY_FILE": str(keys / f"{service}-at-rest.key"),
            "AUTH_PUBLIC_KEY_FILE": str(keys / "jwt-ed25519.pub.pem"),
            "KEYRING_FILE": str(keys / "bus-keyring.json"),
            "SIGNING_KEY_FILE": str(keys / "bus-signing" / f"{service}.ed25519.pem"),
            "TRUST_LIST_FILE": str(keys / "bus-trust.json"), "BUS_KEYS_CREATE_MISSING": "false",
            "NATS_NKEY_SEED_FILE": str(keys / "nats" / f"{service}.nk"),
            "RELAY_IDLE_POLL_S": "0.05", "CONSUMER_BACKOFF_S": "0.05", **settings,
        }
        self.log = tmp / f"{service}-{self.port}.log"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.support.replica", service], cwd=ROOT,
            env={**os.environ, **{p + k: v for k, v in env.items()}},
            stdout=subprocess.PIPE, stderr=self.log.open("wb"))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def ready(self, timeout: float = 60.0) -> None:
        async def probe() -> bool:
            assert self.proc.poll() is None, self.log.read_text()[-3000:]
            try:
                async with httpx.AsyncClient() as http:
                    r = await http.get(f"{self.url}/health/ready", timeout=2)
                return r.status_code == 200
            except httpx.HTTPError:
                return False
        await eventually(probe, timeout)

    def stop(self) -> dict[str, int]:
        """SIGTERM, wait, and what this replica reports it did."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            out, _ = self.proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, _ = self.proc.communicate()
        lines = [ln for ln in out.decode().splitlines() if ln.startswith("{")]
        return json.loads(lines[-1]) if lines else {}


@pytest.fixture
def keys(tmp_path: Path, keys_dir: Path) -> Path:
    """The files a Secret would mount: made once, before any replica starts (two replicas
    racing to create an at-rest key would each encrypt with its own)."""
    d = tmp_path / "keys"
    d.mkdir()
    for name in ("jwt-ed25519.pub.pem", "bus-keyring.json"):
        if not (keys_dir / name).exists() and name == "bus-keyring.json":
            Keyring.load_or_create(keys_dir / name)
        (d / name).write_bytes((keys_dir / name).read_bytes())
    for service in ("intake", "review"):
        (d / f"{service}-at-rest.key").write_text(AESCipher.create_key(num_bytes=32))
    # Provisioned signing keys, trust list and NATS users: the session's, which the
    # in-process services of the test use too.
    for name in ("bus-signing", "nats"):
        shutil.copytree(keys_dir / name, d / name)
    shutil.copy(keys_dir / "bus-trust.json", d / "bus-trust.json")
    return d


@pytest.fixture
async def replicas(nats_server: NatsServer) -> Any:
    await reset_jetstream(nats_server.url)
    started: list[Replica] = []
    yield started
    for r in started:
        if r.proc.poll() is None:
            r.proc.kill()
            r.proc.wait()


async def accept_applications(intake_url: str | None, issuer: TokenIssuer, n: int,
                              intake: Any = None) -> list[str]:
    """n applications submitted and accepted, concurrently (a township's morning burst)."""
    async def one(http: httpx.AsyncClient) -> str:
        r = await http.post("/applications", json=filing(), headers=clerk(issuer))
        assert r.status_code == 201, r.text
        application_id = r.json()["application_id"]
        r = await http.post(f"/applications/{application_id}/accept", headers=clerk(issuer))
        assert r.status_code == 200, r.text
        return str(application_id)

    http = client(intake) if intake is not None else httpx.AsyncClient(base_url=intake_url)
    async with http:
        return list(await asyncio.gather(*(one(http) for _ in range(n))))


async def stream_count(url: str, service: str) -> int:
    nc = await nats.connect(url)
    try:
        info = await nc.jetstream().stream_info(stream_name("469028", service))
        return int(info.state.messages)
    except Exception:
        return 0
    finally:
        await nc.close()


async def test_two_review_replicas_open_each_case_exactly_once(
        replicas: list[Replica], nats_server: NatsServer, postgres_url: str, keys: Path,
        keys_dir: Path, tmp_path: Path, issuer: TokenIssuer, span_exporter: Any) -> None:
    intake = build_service("intake", tmp=tmp_path, keys_dir=keys_dir, nats_url=nats_server.url,
                           database_url=None)
    await intake.start()
    try:
        # Batches of one, so both replicas keep a pull request open and share the stream.
        for _ in range(2):
            replicas.append(Replica("review", tmp_path, keys, nats_server.plain_url, postgres_url,
                                    CONSUMER_BATCH_SIZE="1"))
        await asyncio.gather(*(r.ready() for r in replicas))

        n = 30
        applications = await accept_applications(None, issuer, n, intake=intake)
        engine = sa.create_engine(postgres_url)

        async def all_opened() -> bool:
            with engine.connect() as c:
                return c.execute(sa.text("SELECT count(*) FROM review_cases")).scalar() == n
        await eventually(all_opened, 60)
        await asyncio.sleep(1.0)  # anything doubled would show up now

        with engine.connect() as c:
            opened = [str(r[0]) for r in c.execute(sa.text(
                "SELECT application_id FROM review_cases"))]
            handled = c.execute(sa.text(
                "SELECT count(*), count(DISTINCT position) FROM review_inbox "
                "WHERE upstream = 'intake'")).one()
        engine.dispose()
        assert sorted(opened) == sorted(applications)  # each once, none missing
        assert tuple(handled) == (2 * n, 2 * n)  # submitted + accepted, each handled once

        async def review_published() -> bool:
            return await stream_count(nats_server.url, "review") >= n
        await eventually(review_published, 30)
        review_stream = await stream_envelopes(nats_server.url, "review")
        assert len({e.position for e in review_stream}) == len(review_stream)
        assert verify_chain(review_stream).ok

        reports = [r.stop() for r in replicas]
        assert sum(r["handled"] for r in reports) == 2 * n
        assert all(r["handled"] > 0 for r in reports), f"one replica did everything: {reports}"
        # One relay published; the other stood by (no lease, no publish).
        assert sorted(r["published"] > 0 for r in reports) == [False, True], reports
        assert sum(r["published"] for r in reports) == len(review_stream)
    finally:
        await intake.stop()


async def test_the_standby_relay_takes_over_when_the_active_one_is_killed(
        replicas: list[Replica], nats_server: NatsServer, postgres_url: str, keys: Path,
        tmp_path: Path, issuer: TokenIssuer) -> None:
    for _ in range(2):
        replicas.append(Replica("intake", tmp_path, keys, nats_server.plain_url, postgres_url))
    await asyncio.gather(*(r.ready() for r in replicas))
    engine = sa.create_engine(postgres_url)

    key = lease_key("intake->nats") & 0xFFFFFFFFFFFFFFFF  # a bigint lock: two oids

    def lease_holders() -> list[str]:
        with engine.connect() as c:
            return [r[0] for r in c.execute(sa.text(
                "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a "
                "ON a.pid = l.pid WHERE l.locktype = 'advisory' AND l.granted "
                "AND l.objsubid = 1 AND l.classid::bigint = :hi AND l.objid::bigint = :lo"),
                {"hi": key >> 32, "lo": key & 0xFFFFFFFF})]

    async def published(n: int) -> bool:
        return await stream_count(nats_server.url, "intake") == n

    try:
        await accept_applications(replicas[0].url, issuer, 3)
        await eventually(lambda: published(6), 20)
        holders = lease_holders()
        assert len(holders) == 1, holders  # exactly one relay is active
        active = next(r for r in replicas if holders[0].endswith(f":{r.proc.pid}"))
        standby = next(r for r in replicas if r is not active)

        active.proc.send_signal(signal.SIGKILL)  # no clean-up of any kind
        active.proc.wait()
        killed_at = time.monotonic()
        await accept_applications(standby.url, issuer, 3)  # written after the kill
        await eventually(lambda: published(12), 20)
        takeover_s = time.monotonic() - killed_at
        assert takeover_s < 10, f"took {takeover_s:.1f}s"
        assert lease_holders() == [holders[0].rsplit(":", 1)[0] + f":{standby.proc.pid}"]

        await asyncio.sleep(1.0)  # a second publisher would add messages now
        envelopes = await stream_envelopes(nats_server.url, "intake")
        assert [e.position for e in envelopes] == list(range(1, 13))  # each event once
        assert verify_chain(envelopes).ok
    finally:
        engine.dispose()
