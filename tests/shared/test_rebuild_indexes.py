"""A rebuild fills its shadow tables without the indexes it never reads by (issue 23); the
swapped-in tables still carry every index the code declares, under its base name, and a
second rebuild swaps again."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from bench.relay_throughput import write_events
from services.intake.application import IntakeApplication
from services.intake.main import IntakeSettings, load_policies
from shared.fieldcrypt import Keyring
from shared.regions import load_county


def indexes(app: IntakeApplication, table: str) -> set[str]:
    return {str(i["name"]) for i in sa.inspect(app.engine).get_indexes(table)}


def test_the_swapped_tables_have_every_declared_index(tmp_path: Path, keys_dir: Path) -> None:
    settings = IntakeSettings(var_dir=tmp_path, nats_url="nats://127.0.0.1:1",
                              auth_public_key_file=keys_dir / "jwt-ed25519.pub.pem",
                              keyring_file=keys_dir / "bus-keyring.json", relay_enabled=False)
    app = IntakeApplication(settings, load_county(settings.region),
                            load_policies(settings.policy_file),
                            Keyring.load_or_create(settings.resolved_keyring_file))
    try:
        write_events(app, 6)
        declared = {str(i.name) for i in app.views.applications.indexes}
        assert len(declared) >= 8 and indexes(app, "intake_applications") == declared
        for _ in range(2):
            assert app.rebuild_projections() == 6
            assert indexes(app, "intake_applications") == declared
            assert indexes(app, "intake_memberships") == {
                str(i.name) for i in app.views.memberships.indexes}
        plan = app.engine.connect().exec_driver_sql(
            "EXPLAIN QUERY PLAN SELECT * FROM intake_applications WHERE status = 'accepted'"
        ).all()
        assert "ix_intake_applications_status" in str(plan)  # the reads' index is in use
    finally:
        app.close()
