"""`python -m deploy.demo`: plays a month in Lingshui through the gateway.

Uses the stack already running on the gateway port, or starts the embedded stack
(`python -m deploy.local`) on fresh data in var/demo (or --var) with publicity's clock sped
up so that the 7-day notice windows run in seconds (the windows themselves are not
shortened). For the month end it restarts that stack with the other services' clocks on the
roster cut-off day that this month's decisions are paid from (`deploy.local --today`), and
stops it at the end.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from datetime import date, datetime
from pathlib import Path
from typing import IO

import httpx

from deploy.demo.households import generate
from deploy.demo.scenario import CHINA, Gateway, Progress, Scenario, Tokens, china_today, summary
from deploy.local import AUDIENCE, ISSUER
from shared.auth import TokenIssuer
from shared.regions import load_county

WEEK_S = 7 * 86400


def stack_env(window_seconds: float, anchor: datetime) -> dict[str, str]:
    """Publicity's demo clock: a 7-day window passes in `window_seconds` of real time."""
    return {"PUBLICITY_CLOCK_SPEED": str(round(WEEK_S / window_seconds)),
            "PUBLICITY_CLOCK_ANCHOR": anchor.isoformat(),
            "PUBLICITY_SCHEDULER_INTERVAL_S": "1"}


def running(gateway: str) -> bool:
    try:
        return httpx.get(f"{gateway}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def relay_supervision(out: IO[str]) -> None:
    for line in out:
        if line.startswith("launcher:"):
            print("  " + line.strip(), flush=True)


def launch(var: Path, port_base: int, nats_port: int, env: dict[str, str],
           timeout: float = 120, today: date | None = None) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "deploy.local", "--var", str(var), "--port-base", str(port_base),
         "--nats-port", str(nats_port), "--timeout", str(timeout),
         *(["--today", today.isoformat()] if today else [])],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env={**os.environ, **env})
    assert proc.stdout is not None
    for line in proc.stdout:
        if "is up in" in line:
            print("  " + line.strip())
            # keep reading, so the launcher never blocks on a full pipe; pass on what its
            # supervision reports (a child that died and was started again)
            threading.Thread(target=relay_supervision, args=(proc.stdout,), daemon=True).start()
            return proc
    raise SystemExit(f"the embedded stack did not start ({proc.wait()}); see {var}/log/")


def stop(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()


class EmbeddedStack:
    """The demo's own stack, which it may restart with its clock on a later day."""

    def __init__(self, var: Path, port_base: int, nats_port: int, env: dict[str, str]) -> None:
        self.var, self.port_base, self.nats_port, self.env = var, port_base, nats_port, env
        self.proc: subprocess.Popen[str] | None = None

    def start(self, today: date | None = None) -> None:
        self.proc = launch(self.var, self.port_base, self.nats_port, self.env, today=today)

    def move_to(self, day: date) -> None:
        """Stop, and start again as if it were `day` (publicity keeps its sped-up clock)."""
        self.stop()
        self.start(day)

    def stop(self) -> None:
        if self.proc is not None:
            stop(self.proc)
            self.proc = None


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--var", type=Path, default=None,
                   help="the stack's data: default var/demo, emptied first when the demo "
                        "starts the stack (the running stack's own var otherwise)")
    p.add_argument("--port-base", type=int,
                   default=int(os.environ.get("LINGSHUI_PORT_BASE", "8700")))
    p.add_argument("--nats-port", type=int,
                   default=int(os.environ.get("LINGSHUI_NATS_PORT", "4333")))
    p.add_argument("--seed", type=int, default=2026)
    p.add_argument("--townships", type=int, default=11, help="how many of the 11 (1-11)")
    p.add_argument("--households", type=int, default=10, help="per township (at least 4)")
    p.add_argument("--window-seconds", type=float, default=20.0,
                   help="real seconds a 7-day publicity window takes on the demo clock")
    p.add_argument("--out", type=Path, default=None, help="default: <var>/demo-output")
    args = p.parse_args(argv)

    started = time.monotonic()
    gateway = f"http://127.0.0.1:{args.port_base}"
    stack = None
    if running(gateway):
        var = (args.var or Path(os.environ.get("LINGSHUI_VAR", "var"))).resolve()
        print(f"using the stack already running at {gateway} (data in {var}); its publicity "
              "clock must be sped up (PUBLICITY_CLOCK_SPEED) or the windows take 7 days")
    else:
        var = (args.var or Path("var/demo")).resolve()
        if args.var is None and var.exists():
            shutil.rmtree(var)  # the demo's own data: each run plays the month afresh
        print(f"starting the embedded stack in {var} …")
        stack = EmbeddedStack(var, args.port_base, args.nats_port,
                              stack_env(args.window_seconds, datetime.now(CHINA)))
        stack.start()
    county = load_county()
    codes = list(county.township_codes)[:max(1, min(11, args.townships))]
    households = generate(county, args.seed, codes, max(4, args.households), china_today())
    print(f"{len(households)} households in {len(codes)} townships (seed {args.seed})")
    issuer = TokenIssuer(var / "keys" / "jwt-ed25519.pem", ISSUER, AUDIENCE)
    gw = Gateway(gateway)
    try:
        scenario = Scenario(gw, Tokens(issuer), households, args.out or var / "demo-output",
                            nats_url=f"nats://127.0.0.1:{args.nats_port}", progress=Progress(),
                            nats_nkey_seed=var / "keys" / "nats" / "finance-bureau.nk",
                            wait_s=max(120.0, args.window_seconds * 6),
                            move_clock=stack.move_to if stack else None)
        out = scenario.run()
        names = {t.code: t.name for t in county.townships}
        print(summary(out, gateway, names).replace("<var>", str(var)))
        if stack is not None:
            print(f"(the demo stops its stack; to look around in its data afterwards: "
                  f"{sys.executable} -m deploy.local --var {var} --today {out.month_ends[-1].on})")
        print(f"\nwall time {time.monotonic() - started:.0f}s for {len(households)} cases")
        return 0
    finally:
        gw.close()
        if stack is not None:
            print("stopping the embedded stack …")
            stack.stop()


if __name__ == "__main__":
    sys.exit(main())
