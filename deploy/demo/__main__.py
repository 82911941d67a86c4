"""`python -m deploy.demo`: plays a month in Lingshui through the gateway.

Uses the stack already running on the gateway port, or starts the embedded stack
(`python -m deploy.local`) in --var with publicity's clock sped up so that the 7-day notice
windows run in seconds (the windows themselves are not shortened), and stops it at the end.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

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


def launch(var: Path, port_base: int, nats_port: int, env: dict[str, str],
           timeout: float = 120) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "deploy.local", "--var", str(var), "--port-base", str(port_base),
         "--nats-port", str(nats_port), "--timeout", str(timeout)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env={**os.environ, **env})
    assert proc.stdout is not None
    for line in proc.stdout:
        if "is up in" in line:
            print("  " + line.strip())
            return proc
    raise SystemExit(f"the embedded stack did not start ({proc.wait()}); see {var}/log/")


def stop(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--var", type=Path, default=Path(os.environ.get("LINGSHUI_VAR", "var")))
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
    var = args.var.resolve()
    gateway = f"http://127.0.0.1:{args.port_base}"
    proc = None
    if running(gateway):
        print(f"using the stack already running at {gateway} (data in {var}); its publicity "
              "clock must be sped up (PUBLICITY_CLOCK_SPEED) or the windows take 7 days")
    else:
        print(f"starting the embedded stack in {var} …")
        proc = launch(var, args.port_base, args.nats_port,
                      stack_env(args.window_seconds, datetime.now(CHINA)))
    county = load_county()
    codes = list(county.township_codes)[:max(1, min(11, args.townships))]
    households = generate(county, args.seed, codes, max(4, args.households), china_today())
    print(f"{len(households)} households in {len(codes)} townships (seed {args.seed})")
    issuer = TokenIssuer(var / "keys" / "jwt-ed25519.pem", ISSUER, AUDIENCE)
    gw = Gateway(gateway)
    try:
        scenario = Scenario(gw, Tokens(issuer), households, args.out or var / "demo-output",
                            nats_url=f"nats://127.0.0.1:{args.nats_port}", progress=Progress(),
                            wait_s=max(120.0, args.window_seconds * 6))
        out = scenario.run()
        names = {t.code: t.name for t in county.townships}
        print(summary(out, gateway, names).replace("<var>", str(var)))
        print(f"\nwall time {time.monotonic() - started:.0f}s for {len(households)} cases")
        return 0
    finally:
        gw.close()
        if proc is not None:
            print("stopping the embedded stack …")
            stop(proc)


if __name__ == "__main__":
    sys.exit(main())
