"""The sealed outbox: each event's envelope, built and signed in the writer's transaction,
waiting for the relay; and the aggregate version of each chain head, so a writer seals an
event only on the head of the version before it.

Revision ID: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

POSITION = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade(service: str) -> None:
    op.create_table(
        f"{service}_outbox",
        sa.Column("position", POSITION, primary_key=True, autoincrement=False),
        sa.Column("aggregate_id", sa.String(36), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("subject", sa.String(256), nullable=False),
        sa.Column("msg_id", sa.String(128), nullable=False),
        sa.Column("envelope", sa.LargeBinary, nullable=False),
        sa.Column("traceparent", sa.String(128), nullable=True),
    )
    # Heads moved by a relay before this revision have no version: the relay seals the
    # next event of such an aggregate (it publishes in order), then writers can.
    with op.batch_alter_table(f"{service}_chain_heads") as batch:
        batch.add_column(sa.Column("version", sa.Integer, nullable=True))
