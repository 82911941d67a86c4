"""`make up` supervises (issue 19): SIGKILL one service under light load through the gateway;
it is back within 10 s and no request to the other services fails. SIGKILL the gateway; it
is back too. Then a clean Ctrl-C. Real processes, traffic to 127.0.0.1 only, bounded."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from deploy.local import free_port_block
from shared.contracts.common import SERVICES

pytestmark = [pytest.mark.nats, pytest.mark.slow]

BACK_WITHIN_S = 10.0
MAX_REQUESTS = 3000  # the load loop ends on this or on BACK_WITHIN_S + 5, whichever first


def launch(var: Path, port_base: int, nats_port: int) -> tuple[subprocess.Popen[str], list[str]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "deploy.local", "--var", str(var), "--port-base", str(port_base),
         "--nats-port", str(nats_port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True)
    assert proc.stdout is not None
    lines: list[str] = []
    for line in proc.stdout:
        lines.append(line)
        if "is up in" in line:
            break
    else:
        raise AssertionError(f"launcher ended: {proc.wait()}: {''.join(lines)}")

    def drain() -> None:  # all of the launcher's output, so its pipe never fills
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)

    threading.Thread(target=drain, daemon=True).start()
    return proc, lines


def pid_of(var: Path, child: str) -> int:
    return int((var / "run" / f"{child}.pid").read_text())


def ready(client: httpx.Client, service: str) -> bool:
    try:
        return client.get(f"/api/{service}/health/ready").status_code == 200
    except httpx.HTTPError:
        return False


def test_a_killed_service_and_gateway_come_back_while_the_others_serve(tmp_path: Path) -> None:
    port_base = free_port_block(7)  # gateway and five services, then NATS
    nats_port = port_base + 6
    gateway = f"http://127.0.0.1:{port_base}"
    proc, out = launch(tmp_path, port_base, nats_port)
    victim, others = "review", [s for s in SERVICES if s != "review"]
    try:
        with httpx.Client(base_url=gateway, timeout=5) as client:
            assert all(ready(client, s) for s in SERVICES)

            # a service: SIGKILL it, keep asking all five through the gateway
            old = pid_of(tmp_path, victim)
            os.kill(old, signal.SIGKILL)
            killed = time.monotonic()
            failed: list[tuple[str, float]] = []  # (service, seconds after the kill)
            victim_down = False
            back_after: float | None = None
            requests = 0
            while requests < MAX_REQUESTS and time.monotonic() - killed < BACK_WITHIN_S + 5:
                for service in SERVICES:
                    ok = ready(client, service)
                    requests += 1
                    if service != victim and not ok:
                        failed.append((service, time.monotonic() - killed))
                    elif service == victim and not ok:
                        victim_down = True
                    elif service == victim and victim_down and back_after is None:
                        back_after = time.monotonic() - killed
                if back_after is not None and time.monotonic() - killed > back_after + 1:
                    break  # a second more of traffic with it back
                time.sleep(0.02)
            assert victim_down, "the kill was never seen"
            assert back_after is not None and back_after <= BACK_WITHIN_S, (back_after, requests)
            assert failed == [], failed
            assert pid_of(tmp_path, victim) != old
            assert requests > 20
            print(f"{victim} back after {back_after:.1f}s; {requests} requests, none of the "
                  "others' failed")

            # the gateway: SIGKILL it; it answers /health again, every service behind it ready
            old_gateway = pid_of(tmp_path, "gateway")
            os.kill(old_gateway, signal.SIGKILL)
            killed = time.monotonic()
            gateway_down, gateway_back = False, None
            while time.monotonic() - killed < BACK_WITHIN_S + 5:
                try:
                    up = client.get("/health").status_code == 200
                except httpx.HTTPError:
                    up = False
                if not up:
                    gateway_down = True
                elif gateway_down:
                    gateway_back = time.monotonic() - killed
                    break
                time.sleep(0.05)
            assert gateway_down, "the gateway's kill was never seen"
            assert gateway_back is not None and gateway_back <= BACK_WITHIN_S, gateway_back
            assert all(ready(client, s) for s in SERVICES)
            assert pid_of(tmp_path, "gateway") != old_gateway
            print(f"gateway back after {gateway_back:.1f}s")
    finally:
        proc.send_signal(signal.SIGINT)
        rc = proc.wait(30)
    text = "".join(out)
    assert rc == 0, text
    assert f"{victim} (pid {old}) died: killed by SIGKILL" in text, text
    assert re.search(rf"{victim} restarted \(pid \d+\), restart 1\n", text), text
    assert f"gateway (pid {old_gateway}) died: killed by SIGKILL" in text, text
    assert re.search(r"gateway restarted \(pid \d+\), restart 1\n", text), text
    assert "Traceback" not in text, text
    for other in ("nats", *others):
        assert f"{other} (pid" not in text, text  # nobody else died or was restarted
    assert not list((tmp_path / "run").glob("*.pid"))  # a clean stop removes them
    assert "killed by SIGKILL" in (tmp_path / "log" / "launcher.log").read_text()
    for log in (tmp_path / "log").glob("*.log"):  # nothing died untidily, nor on the stop
        assert "Traceback" not in log.read_text(), log.name

