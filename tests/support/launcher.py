"""`make up` as a test runs it: the launcher (`python -m deploy.local`) as a subprocess on a
block of free ports, stopped by Ctrl-C as an operator would."""

from __future__ import annotations

import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

FRONTEND = "https://frontend.lingshui.example"


@dataclass
class Stack:
    """A launched stack: the gateway's URL and the dev tokens it wrote."""

    url: str
    tokens: dict[str, str]


def launch(var: Path, port_base: int, nats_port: int,
           env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "deploy.local", "--var", str(var), "--port-base", str(port_base),
         "--nats-port", str(nats_port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, env=env)
    assert proc.stdout is not None
    for line in proc.stdout:  # the first line says it is up, or the process ends
        if "is up in" in line:
            return proc
    raise AssertionError(f"launcher ended: {proc.wait()}")


def stop(proc: subprocess.Popen[str]) -> int:
    proc.send_signal(signal.SIGINT)
    return proc.wait(30)
