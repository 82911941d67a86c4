"""The fixtures every area shares, on real parts, not mocks (tests/support/infra.py): a
nats-server on a free port, a real PostgreSQL (DATABASE_URL, or one started from the local
binaries), dev keys, tokens, and started services."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from shared.auth import Role, TokenIssuer, ensure_dev_keypair
from shared.contracts.common import SERVICES
from shared.natsauth import ensure_nats_credentials
from shared.pii import Keyring
from shared.runtime import ServiceRuntime
from shared.signing import ensure_bus_keys
from shared.telemetry import setup_telemetry
from tests.support import signing
from tests.support.infra import CI, NatsServer, start_own_postgres
from tests.support.stack import Services, reset_jetstream
from tests.support.web import bearer, client


@pytest.fixture(scope="session")
def nats_server(tmp_path_factory: pytest.TempPathFactory,
                keys_dir: Path) -> Iterator[NatsServer]:
    server = NatsServer(tmp_path_factory.mktemp("nats"), keys_dir)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def span_exporter() -> InMemorySpanExporter:
    exporter = InMemorySpanExporter()
    setup_telemetry("tests", "none", extra=exporter)
    return exporter


@pytest.fixture(scope="session")
def keys_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("keys")
    ensure_dev_keypair(d)
    ensure_bus_keys(d, SERVICES)
    ensure_nats_credentials(d, "469028", SERVICES)
    signing.KEYS_DIR = d  # test doubles of upstream relays sign with these keys
    return d


@pytest.fixture
def keyring(keys_dir: Path) -> Keyring:
    """The session's bus keyring: what upstream services seal personal data with."""
    return Keyring.load_or_create(keys_dir / "bus-keyring.json")


@pytest.fixture(scope="session")
def issuer(keys_dir: Path) -> TokenIssuer:
    return TokenIssuer(keys_dir / "jwt-ed25519.pem", "lingshui-dev", "social-assistance")


@pytest.fixture(scope="session")
def postgres_admin_url() -> Iterator[str]:
    url = os.environ.get("DATABASE_URL")
    stop: list[str] = []
    tmp: str | None = None
    if not url:
        tmp = tempfile.mkdtemp(prefix="lingshui-pg-")
        try:
            url, _, stop = start_own_postgres(Path(tmp))
        except Exception as e:
            if CI:
                pytest.fail(f"CI=true requires PostgreSQL, none could be had: {e}")
            pytest.skip(f"no PostgreSQL: {e}")
    yield url
    if stop:
        subprocess.run(stop, capture_output=True)
    if tmp:
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture
def postgres_url(postgres_admin_url: str) -> Iterator[str]:
    """A fresh database per test, dropped afterwards."""
    import sqlalchemy as sa

    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(postgres_admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(sa.text(f'CREATE DATABASE "{name}"'))
    yield postgres_admin_url.rsplit("/", 1)[0] + f"/{name}"
    with admin.connect() as c:
        c.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


# --- services -------------------------------------------------------------------------------


@pytest.fixture
async def service(tmp_path: Path, keys_dir: Path, nats_server: NatsServer,
                  span_exporter: Any) -> AsyncIterator[Services]:
    """`await service("intake", **settings)`: a started service on its own SQLite file and
    the session's NATS (streams emptied first); `service.build(...)` one not started. All
    stopped after the test."""
    await reset_jetstream(nats_server.url)
    started = Services(tmp_path, keys_dir, nats_server.url, None)
    yield started
    await started.stop()


@pytest.fixture
async def services(request: pytest.FixtureRequest, backend: str, tmp_path: Path,
                   keys_dir: Path, nats_server: NatsServer, span_exporter: Any,
                   ) -> AsyncIterator[Services]:
    """As `service`, on each store backend in turn (SQLite, then PostgreSQL)."""
    await reset_jetstream(nats_server.url)
    database_url = (request.getfixturevalue("postgres_url") if backend == "postgres" else None)
    started = Services(tmp_path, keys_dir, nats_server.url, database_url)
    yield started
    await started.stop()


@pytest.fixture
async def http(runtime: ServiceRuntime) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client on the ASGI app of the test's `runtime` (its area says which)."""
    async with client(runtime) as c:
        yield c


@pytest.fixture
def as_(issuer: TokenIssuer) -> Callable[..., dict[str, str]]:
    """Authorization headers: as_(Role.TOWNSHIP_CLERK, YELIN), as_(role, YELIN, TAOYUAN,
    user_id=..., org=...)."""
    def headers(role: Role, township: str | None = None, village: str | None = None, *,
                user_id: str | None = None, org: str | None = None) -> dict[str, str]:
        return bearer(issuer, role, township, village, user_id=user_id, org=org)
    return headers


# --- tiers ----------------------------------------------------------------------------------

# What a `fast` test may not reach (the fast tier: `make test-fast`).
INFRASTRUCTURE = frozenset({"nats_server", "postgres_admin_url", "chromium", "browser"})
REAL_TIER = ("nats", "postgres", "slow")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The fast tier stays fast: a `fast` test whose fixtures reach NATS, PostgreSQL or a
    browser is a collection error, not a slow surprise."""
    wrong = [item.nodeid for item in items
             if item.get_closest_marker("fast")
             and not any(item.get_closest_marker(m) for m in REAL_TIER)
             and INFRASTRUCTURE & set(getattr(item, "fixturenames", ()))]
    if wrong:
        raise pytest.UsageError("marked fast but needs real infrastructure (mark it nats/"
                                "postgres, or drop `fast`):\n" + "\n".join(wrong))
