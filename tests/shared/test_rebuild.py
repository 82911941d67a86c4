"""Read-model rebuilds (issue 23): built into shadow tables while the old read models keep
answering, with progress, then swapped in; a second rebuild swaps again (no name collides),
and events committed during the build are in the new read models. The HTTP job: POST starts
it in the background (202), GET shows its progress, operators only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from bench.relay_throughput import filing
from services.intake.schemas import FilingContent, plain
from services.intake.values import Household
from shared.auth import Principal, Role, TokenIssuer
from shared.rebuild import RebuildProgress
from tests.support.places import YELIN
from tests.support.stack import build_service, rebuild_read_models
from tests.support.web import client

pytestmark = pytest.mark.fast

CLERK = Principal(user_id="clerk-1", role=Role.TOWNSHIP_CLERK, township=YELIN)


def submit(app: Any, i: int) -> Any:
    b = filing(i)
    return app.submit(CLERK, kind=b.kind, linshi_type=plain(b.linshi_type), township=b.township,
                      village=b.village, filed_by=b.filed_by,
                      filing=Household.of(plain(b.model_dump(include=set(FilingContent.model_fields)))))


def listed(app: Any) -> list[Any]:
    total, items = app.list_applications(CLERK, township=YELIN, status=None, kind=None,
                                         village=None, filed_from=None, filed_to=None,
                                         limit=100, offset=0)
    return sorted((i["application_id"], i["status"]) for i in items)


def test_reads_use_the_old_models_until_the_new_ones_are_swapped_in(
        tmp_path: Path, keys_dir: Path, backend: str, request: pytest.FixtureRequest) -> None:
    url = request.getfixturevalue("postgres_url") if backend == "postgres" else None
    rt = build_service("intake", tmp=tmp_path, keys_dir=keys_dir,
                       nats_url="nats://127.0.0.1:1", database_url=url, encrypt_at_rest=True)
    app = rt.app
    try:
        ids = [submit(app, i) for i in range(6)]
        app.accept(CLERK, ids[0])
        before = listed(app)
        assert len(before) == 6
        t = app.views.applications
        with app.unit_of_work() as s:  # damage the rebuild must repair
            s.execute(sa.update(t).where(t.c.application_id == str(ids[1]))
                      .values(status="withdrawn"))
        damaged = listed(app)
        assert damaged != before

        seen: list[tuple[str, int, list[Any]]] = []
        late: list[Any] = []
        progress = RebuildProgress("intake")

        def during(p: RebuildProgress) -> None:
            seen.append((p.phase, p.done, listed(app)))
            if p.phase == "own events" and p.done == 3 and not late:
                late.append(submit(app, 99))  # committed while the build runs

        progress.listen(during)
        assert app.rebuild_projections(batch=1, progress=progress) >= 8
        building = [view for phase, done, view in seen if phase == "own events" and done]
        assert building and all(len(v) >= 6 for v in building)
        # Mid-build, every read answered from the old (damaged) table, never a half-built one.
        assert all(dict(v)[str(ids[1])] == "withdrawn" for v in building)
        assert progress.state == "done" and progress.as_dict()["percent"] is not None
        after = listed(app)
        assert after == sorted([*before, (str(late[0]), "submitted")])

        # Again: the renamed tables' indexes and keys do not collide with the next shadow's.
        assert app.rebuild_projections() == progress.result["own_events"]  # type: ignore[index]
        assert listed(app) == after
        submit(app, 100)  # the swapped tables take new writes
        assert len(listed(app)) == 8
        names = set(sa.inspect(app.engine).get_table_names())
        assert {"intake_applications", "intake_memberships"} <= names
        assert not [n for n in names if "__r" in n]  # no shadow left behind
    finally:
        app.close()


async def test_rebuild_is_a_background_job_with_progress(
        tmp_path: Path, keys_dir: Path, issuer: TokenIssuer) -> None:
    rt = build_service("intake", tmp=tmp_path, keys_dir=keys_dir,
                       nats_url="nats://127.0.0.1:1", database_url=None)
    try:
        for i in range(3):
            submit(rt.app, i)
        centre = {"authorization": "Bearer " + issuer.mint("centre-1", Role.COUNTY_CENTRE)}
        clerk = {"authorization": "Bearer " + issuer.mint("c-1", Role.TOWNSHIP_CLERK, YELIN)}
        async with client(rt) as http:
            assert (await http.get("/ops/rebuild-read-models", headers=centre)).json()[
                "state"] == "none"
            for method in ("post", "get"):
                r = await getattr(http, method)("/ops/rebuild-read-models", headers=clerk)
                assert r.status_code == 403, r.text
            done = await rebuild_read_models(http, centre)
            assert done["result"]["own_events"] == done["done"] >= 3
            assert done["phase"] == "swapped" and done["percent"] == 100.0
        assert len(listed(rt.app)) == 3
    finally:
        rt.app.close()
