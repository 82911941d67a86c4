"""One version stamp per read model: a stamp that differs from the code's makes the service
rebuild that read model from its events at start-up (shared.migrations.sync_read_models).

Revision ID: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade(service: str) -> None:
    op.create_table(
        f"{service}_projection_version",
        sa.Column("projection", sa.String(64), primary_key=True),
        sa.Column("stamp", sa.String(80), nullable=False),
        sa.Column("rebuilt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("events", sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                  nullable=False),
    )
