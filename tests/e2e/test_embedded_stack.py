"""`make up` for real: the launcher as a subprocess, through the gateway, then a clean
Ctrl-C and a second start that resumes the same data."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest

from deploy.local import free_port_block
from tests.support.flow import filing
from tests.support.launcher import launch, stop
from tests.support.places import YELIN

pytestmark = [pytest.mark.nats, pytest.mark.slow]


def test_up_serves_the_flow_through_the_gateway_and_resumes(tmp_path: Path) -> None:
    port_base = free_port_block(7)  # gateway and five services, then NATS
    nats_port = port_base + 6
    gateway = f"http://127.0.0.1:{port_base}"
    proc = launch(tmp_path, port_base, nats_port)
    try:
        assert httpx.get(f"{gateway}/health").json()["ready"] is True
        tokens = json.loads((tmp_path / "dev-tokens.json").read_text())
        clerk = {"authorization": f"Bearer {tokens[f'township_clerk@{YELIN}']}"}
        leader = {"authorization": f"Bearer {tokens[f'township_leader@{YELIN}']}"}
        r = httpx.post(f"{gateway}/api/intake/applications", json=filing(), headers=clerk)
        assert r.status_code == 201, r.text
        app_id = r.json()["application_id"]
        r = httpx.post(f"{gateway}/api/intake/applications/{app_id}/accept", headers=clerk)
        assert r.status_code == 200, r.text
        deadline = time.monotonic() + 15
        while (r := httpx.get(f"{gateway}/api/review/cases/by-application/{app_id}",
                              headers=leader)).status_code != 200:
            assert time.monotonic() < deadline, r.text
            time.sleep(0.1)
        case_id = r.json()["case_id"]
        r = httpx.get(f"{gateway}/api/review/cases/{case_id}")
        assert r.status_code == 401
        assert r.headers["content-type"] == "application/problem+json"
    finally:
        assert stop(proc) == 0

    proc = launch(tmp_path, port_base, nats_port)
    try:
        r = httpx.get(f"{gateway}/api/review/cases/{case_id}", headers=leader)
        assert r.status_code == 200 and r.json()["application_id"] == app_id
        r = httpx.get(f"{gateway}/api/review/cases", params={"township": YELIN}, headers=leader)
        assert r.json()["total"] == 1
    finally:
        assert stop(proc) == 0
