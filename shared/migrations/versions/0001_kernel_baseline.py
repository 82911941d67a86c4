"""The kernel tables as the first release created them with create_all (a database of that
release is stamped at this revision, not created again).

Revision ID: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

POSITION = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
INSTANT = sa.DateTime(timezone=True)


def upgrade(service: str) -> None:
    p = service
    op.create_table(
        f"{p}_inbox",
        sa.Column("upstream", sa.String(64), primary_key=True),
        sa.Column("position", POSITION, primary_key=True),
        sa.Column("event_type", sa.String(128), nullable=False),
        sa.Column("envelope_hash", sa.String(64), nullable=False, server_default=""),
        sa.Column("handled_at", INSTANT, server_default=sa.func.now()),
    )
    op.create_table(
        f"{p}_upstream_heads",
        sa.Column("upstream", sa.String(64), primary_key=True),
        sa.Column("aggregate_id", sa.String(36), primary_key=True),
        sa.Column("last_hash", sa.String(64), nullable=False),
        sa.Column("position", POSITION, nullable=False),
    )
    op.create_table(
        f"{p}_relay_position",
        sa.Column("relay", sa.String(64), primary_key=True),
        sa.Column("position", POSITION, nullable=False),
    )
    op.create_table(
        f"{p}_chain_heads",
        sa.Column("aggregate_id", sa.String(36), primary_key=True),
        sa.Column("last_hash", sa.String(64), nullable=False),
        sa.Column("position", POSITION, nullable=False),
    )
    op.create_index(f"ix_{p}_chain_heads_position", f"{p}_chain_heads", ["position"])
    op.create_table(
        f"{p}_event_trace",
        sa.Column("position", POSITION, primary_key=True),
        sa.Column("traceparent", sa.String(128), nullable=False),
    )
    op.create_table(
        f"{p}_idempotency",
        sa.Column("subject", sa.String(128), primary_key=True),
        sa.Column("key", sa.String(128), primary_key=True),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("status_code", sa.Integer, nullable=False),
        sa.Column("body", sa.LargeBinary, nullable=False),
        sa.Column("created_at", INSTANT, server_default=sa.func.now()),
    )
