"""Issue 16: truncation is detectable, and archive's copy replays any aggregate exactly.

The real intake service checkpoints its chain heads over a real nats-server (every 3
events, and once quiet for half a second, so the newest heads are covered however commits
fall into relay batches); archive's `verify` names an aggregate whose newest link was deleted from
archive's copy, and an aggregate deleted whole."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, func, select

from shared.auth import Role, TokenIssuer
from shared.contracts.audit import CHAIN_CHECKPOINT
from shared.runtime import ServiceRuntime
from tests.support.intake import filing
from tests.support.places import YELIN
from tests.support.point_in_time import assert_equivalent
from tests.support.stack import eventually
from tests.support.web import client

pytestmark = pytest.mark.nats


@pytest.fixture
async def stack(service: Any, tmp_path: Path) -> tuple[ServiceRuntime, ServiceRuntime]:
    intake = await service("intake", tmp=tmp_path / "intake", checkpoint_every=3,
                           checkpoint_idle_s=0.5)
    archive = await service("archive", tmp=tmp_path / "archive", alert_scan_interval_s=0)
    return intake, archive


async def test_verify_names_a_deleted_tail_and_a_deleted_aggregate(
        stack: tuple[ServiceRuntime, ServiceRuntime], issuer: TokenIssuer) -> None:
    intake, archive = stack
    clerk = {"authorization": "Bearer " + issuer.mint("clerk-1", Role.TOWNSHIP_CLERK, YELIN)}
    centre = {"authorization": "Bearer " + issuer.mint("centre-1", Role.COUNTY_CENTRE)}
    ids = []
    async with client(intake) as http:
        for n in range(3):
            r = await http.post("/applications", json=filing(household=10 * n + 1),
                                headers=clerk)
            assert r.status_code == 201, r.text
            ids.append(r.json()["application_id"])
            r = await http.post(f"/applications/{ids[-1]}/accept", headers=clerk)
            assert r.status_code == 200, r.text

    t = archive.app.views.envelopes
    x = archive.app.views.expected_heads

    async def covered() -> bool:
        # Every application's head committed by a checkpoint that archive holds.
        with archive.app.read_session() as s:
            n = s.execute(select(func.count()).select_from(x).where(
                x.c.aggregate_id.in_(ids))).scalar_one()
            cps = s.execute(select(func.count()).select_from(t).where(
                t.c.type == CHAIN_CHECKPOINT)).scalar_one()
        return n == 3 and cps >= 2
    await eventually(covered, 20)

    async with client(archive) as audit:
        r = await audit.get("/audit/streams/intake/verification", headers=centre)
        assert r.status_code == 200, r.text
        whole = r.json()
        assert whole["ok"], whole
        assert whole["completeness"]["intake"]["checkpoints"] >= 2

        with archive.app.unit_of_work() as s:
            # The newest link (the acceptance) of the first application, and every link of
            # the second: a plain per-aggregate chain still verifies after both.
            newest = s.execute(select(t.c.position).where(t.c.aggregate_id == ids[0])
                               .order_by(t.c.position.desc()).limit(1)).scalar_one()
            s.execute(delete(t).where(t.c.source == "intake", t.c.position == newest))
            s.execute(delete(t).where(t.c.aggregate_id == ids[1]))

        r = await audit.get("/audit/streams/intake/verification", headers=centre)
        result = r.json()
        assert not result["ok"]
        missing = {m["aggregate_id"]: m for m in result["sources"]["intake"]["missing"]}
        assert missing[ids[0]]["reason"] == "missing_tail"
        assert missing[ids[0]]["aggregate"] == "Application"
        assert missing[ids[0]]["archived_position"] < missing[ids[0]]["expected_position"]
        assert missing[ids[1]]["reason"] == "missing_aggregate"
        assert ids[2] not in missing
        # A case's own verification names its missing tail too.
        r = await audit.get(f"/audit/cases/{ids[0]}/verification", headers=centre)
        assert r.json()["first_broken"]["reason"] == "missing_tail"


async def test_point_in_time_equals_the_owners_repository_over_generated_applications(
        stack: tuple[ServiceRuntime, ServiceRuntime], issuer: TokenIssuer) -> None:
    """Random paths through intake's lifecycle; at every instant, archive's state of each
    application equals intake's `repository.get(id, version=...)`."""
    intake, archive = stack
    clerk = {"authorization": "Bearer " + issuer.mint("clerk-1", Role.TOWNSHIP_CLERK, YELIN)}
    centre = {"authorization": "Bearer " + issuer.mint("centre-1", Role.COUNTY_CENTRE)}
    rng = random.Random(16)
    ids = []
    async with client(intake) as http:
        for n in range(8):
            r = await http.post("/applications", json=filing(household=10 * n + 1),
                                headers=clerk)
            assert r.status_code == 201, r.text
            app_id = r.json()["application_id"]
            ids.append(app_id)
            path = f"/applications/{app_id}"
            for step in rng.sample(["return", "accept", "decline", "withdraw"], 2):
                body = {"return": {"items": ["补充收入证明"], "note": "请一次补齐"},
                        "decline": {"reason": "户籍不在本乡镇"},
                        "withdraw": {"reason": "申请人主动撤回"}}.get(step)
                r = await http.post(f"{path}/{step}", json=body, headers=clerk)
                assert r.status_code in (200, 201, 422), r.text  # some paths are refused

    async def arrived() -> bool:
        head = intake.app.recorder.max_notification_id()
        with archive.app.read_session() as s:
            t = archive.app.views.envelopes
            got = s.execute(select(func.max(t.c.position)).where(
                t.c.source == "intake")).scalar_one()
        return got is not None and got >= head - 1  # all but a checkpoint being published
    await eventually(arrived, 20)
    compared = await assert_equivalent(archive, intake, ids, centre)
    assert compared >= 2 * len(ids)
