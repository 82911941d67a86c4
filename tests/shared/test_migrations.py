"""Migrations (shared/migrations): every service's new database is at Alembic's head with no
drift between its kernel tables and the code, its read models stamped; a kernel table changed
without a revision, or a read model's shape changed, is seen. SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Column, String

from shared import migrations
from shared.eventstore import KernelTables
from tests.support.stack import build_service

pytestmark = pytest.mark.fast

SERVICES = ["intake", "review", "publicity", "disbursement", "archive"]


def store(request: pytest.FixtureRequest, backend: str) -> str | None:
    return None if backend == "sqlite" else request.getfixturevalue("postgres_url")


@pytest.mark.parametrize("service", SERVICES)
def test_a_new_database_is_at_head_without_drift(
        service: str, backend: str, request: pytest.FixtureRequest, tmp_path: Path,
        keys_dir: Path) -> None:
    rt = build_service(service, tmp=tmp_path, keys_dir=keys_dir, nats_url="nats://127.0.0.1:1",
                       database_url=store(request, backend))
    app = rt.app
    try:
        with app.engine.connect() as c:
            assert migrations.current_revision(c, service) == migrations.head()
        assert migrations.kernel_drift(app) == [], (
            "the kernel tables differ from the migrations: write a revision in "
            "shared/migrations/versions/")
        assert app.projection is not None
        assert migrations.stored_stamp(app) == migrations.read_model_stamp(app.projection)
        with app.engine.connect() as c:
            assert migrations._diff(c, app.projection.metadata) == []
    finally:
        app.close()


def test_a_kernel_table_changed_without_a_revision_is_drift(
        tmp_path: Path, keys_dir: Path) -> None:
    rt = build_service("intake", tmp=tmp_path, keys_dir=keys_dir,
                       nats_url="nats://127.0.0.1:1", database_url=None)
    try:
        changed = KernelTables("intake")
        changed.inbox.append_column(Column("note", String(32)))
        rt.app.kernel = changed
        drift = migrations.kernel_drift(rt.app)
        assert [(d[0], d[3].name) for d in drift] == [("add_column", "note")]
    finally:
        rt.app.close()


def test_a_read_model_of_another_shape_has_another_stamp() -> None:
    from services.intake.projections import IntakeProjection

    before = migrations.read_model_stamp(IntakeProjection())
    assert migrations.read_model_stamp(IntakeProjection()) == before  # stable across builds
    changed = IntakeProjection()
    changed.applications.append_column(Column("phone", String(20)))
    assert migrations.read_model_stamp(changed) != before
    bumped = IntakeProjection()
    bumped.VERSION = 2  # type: ignore[misc]
    assert migrations.read_model_stamp(bumped) != before


