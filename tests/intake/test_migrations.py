"""The upgrade from the release before migrations: a store whose tables create_all made (no
Alembic version, no read-model stamps) and whose applications read model has an older shape.
Starting the new code keeps every event and kernel row (a retried POST still replays), brings
the kernel tables to head, and rebuilds the read model that changed, equal to what it was.
A store whose read models already have the code's shape is only stamped. SQLite and
PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text

from shared import migrations
from shared.eventstore import ServiceApplication
from tests.support.intake import filing
from tests.support.stack import build_service
from tests.support.web import client

pytestmark = pytest.mark.fast

KEY = {"idempotency-key": "upgrade-1"}


def events(app: ServiceApplication) -> list[tuple[int, str, bytes]]:
    return [(n.id, n.topic, n.state) for n in app.notifications(0, 10_000)]


def read_models(app: ServiceApplication) -> dict[str, list[tuple[Any, ...]]]:
    assert app.projection is not None
    with app.read_session() as s:
        return {t.name: [tuple(r) for r in s.execute(select(t).order_by(*t.primary_key.columns))]
                for t in app.projection.metadata.sorted_tables}


def as_previous_release(app: ServiceApplication, *, old_shape: bool) -> None:
    """What the release before migrations left: no version table, no stamps; optionally the
    applications read model without a column that release did not have."""
    with app.engine.begin() as c:
        c.execute(text("DROP TABLE intake_alembic_version"))
        c.execute(text("DROP TABLE intake_projection_version"))
        c.execute(text("DROP TABLE intake_outbox"))  # and revision 0003's additions
        c.execute(text("ALTER TABLE intake_chain_heads DROP COLUMN version"))
        if old_shape:
            c.execute(text("ALTER TABLE intake_applications DROP COLUMN accepted_on"))


@pytest.mark.parametrize("old_shape", [True, False], ids=["changed", "unchanged"])
async def test_an_upgrade_keeps_every_event_and_rebuilds_what_changed(
        old_shape: bool, backend: str, request: pytest.FixtureRequest, tmp_path: Path,
        keys_dir: Path, clerk: dict[str, str]) -> None:
    url = None if backend == "sqlite" else request.getfixturevalue("postgres_url")

    def start() -> Any:
        return build_service("intake", tmp=tmp_path, keys_dir=keys_dir,
                             nats_url="nats://127.0.0.1:1", database_url=url)

    rt = start()
    async with client(rt) as http:
        first = await http.post("/applications", json=filing(), headers={**clerk, **KEY})
        assert first.status_code == 201, first.text
        for n in (1, 2):
            r = await http.post("/applications", json=filing(household=n), headers=clerk)
            assert r.status_code == 201, r.text
    stored, rows = events(rt.app), read_models(rt.app)
    assert len(stored) >= 3 and len(rows["intake_applications"]) == 3
    as_previous_release(rt.app, old_shape=old_shape)
    rt.app.close()

    rt = start()  # the new release starts on the old store
    app = rt.app
    try:
        with app.engine.connect() as c:
            assert migrations.current_revision(c, "intake") == migrations.head()
        assert migrations.kernel_drift(app) == []
        assert events(app) == stored, "every event is kept, unchanged"
        assert read_models(app) == rows, "the read models hold what they held"
        t = app.kernel.projection_version
        with app.read_session() as s:
            stamp, replayed = s.execute(select(t.c.stamp, t.c.events)).one()
        assert app.projection is not None
        assert stamp == migrations.read_model_stamp(app.projection)
        # Rebuilt from every event when its shape changed; left as it was otherwise.
        assert replayed == (len(stored) if old_shape else 0)
        async with client(rt) as http:
            again = await http.post("/applications", json=filing(), headers={**clerk, **KEY})
        assert again.headers.get("idempotent-replay") == "true"  # the kernel's rows kept
        assert again.json() == first.json()
    finally:
        app.close()
    rt = start()  # a third start finds everything current: nothing is rebuilt again
    try:
        assert migrations.sync_read_models(rt.app) == "kept"
    finally:
        rt.app.close()
