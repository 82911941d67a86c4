"""Alembic's environment for one service's kernel tables. Run by `shared.migrations.migrate`,
which passes the open connection and the service name (every table and the version table are
prefixed with it, so services may share one PostgreSQL database)."""

from __future__ import annotations

from alembic import context

config = context.config
service: str = config.attributes["service"]
metadata = config.attributes["metadata"]


def include_object(obj, name, type_, reflected, compare_to):  # type: ignore[no-untyped-def]
    # Only this service's kernel tables: read models are rebuilt, never migrated (their
    # version stamp decides), and another service's tables are its own business.
    return type_ != "table" or name in metadata.tables


context.configure(connection=config.attributes["connection"], target_metadata=metadata,
                  version_table=f"{service}_alembic_version", include_object=include_object,
                  render_as_batch=True)
with context.begin_transaction():
    context.run_migrations(service=service)
