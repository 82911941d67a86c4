"""deploy.local's supervision on small real processes: a dead child is started again after a
delay that doubles to a cap and starts over once it stayed up; the others are left alone."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

from deploy.local import BACKOFF_FIRST_S, BACKOFF_MAX_S, STABLE_S, Stack, exit_status

SLEEPER = [sys.executable, "-c", "import time; time.sleep(60)"]


def stack_of_sleepers(tmp_path: Path, *names: str) -> Stack:
    stack = Stack(tmp_path, port_base=0, nats_port=0)
    stack.logs.mkdir(parents=True)
    stack.run.mkdir(parents=True)
    for name in names:
        stack._spawn(name, SLEEPER, {})
    return stack


def kill(stack: Stack, name: str) -> int:
    pid = int((stack.run / f"{name}.pid").read_text())
    os.kill(pid, signal.SIGKILL)
    child = next(c for c in stack.children if c.name == name)
    assert child.proc is not None
    child.proc.wait(5)
    return pid


def test_a_killed_child_restarts_with_doubling_delay_and_the_others_keep_running(
        tmp_path: Path) -> None:
    stack = stack_of_sleepers(tmp_path, "a", "b")
    try:
        a, b = stack.children
        assert b.proc is not None
        b_pid = b.proc.pid
        delays = []
        for n in range(1, 7):
            old = kill(stack, "a")
            now = time.monotonic()
            stack.supervise(now)  # notes the death, schedules the restart
            assert a.restart_at is not None
            delays.append(round(a.restart_at - now, 3))
            stack.supervise(a.restart_at - 0.01)  # not yet
            assert a.restarts == n - 1
            stack.supervise(a.restart_at)
            assert a.restarts == n and a.restart_at is None
            assert a.proc is not None and a.proc.poll() is None and a.proc.pid != old
            assert int((stack.run / "a.pid").read_text()) == a.proc.pid
        assert delays == [BACKOFF_FIRST_S * 2 ** i for i in range(5)] + [BACKOFF_MAX_S]
        assert b.proc.poll() is None and b.proc.pid == b_pid and b.restarts == 0

        # once it has stayed up STABLE_S, the next death starts the delays over
        kill(stack, "a")
        now = a.started + STABLE_S + 1
        stack.supervise(now)
        assert a.restart_at == now + BACKOFF_FIRST_S

        log = (stack.logs / "launcher.log").read_text()
        assert "a (pid " in log and "died: killed by SIGKILL" in log
        assert "restart 6 in 10.0s" in log and "a restarted (pid" in log
        assert "b (pid" not in log
    finally:
        stack.stop()
    assert not list(stack.run.glob("*.pid"))
    assert all(c.proc is not None and c.proc.poll() is not None for c in stack.children)


def test_exit_status_names_the_signal() -> None:
    assert exit_status(-9) == "killed by SIGKILL"
    assert exit_status(3) == "exit code 3"
    assert exit_status(0) == "exit code 0"
