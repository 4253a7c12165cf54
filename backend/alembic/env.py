"""Alembic environment: async engine from the service's settings; one migrator at a time."""

import asyncio

from alembic import context
from sqlalchemy import Connection, text

from app.core.config import load_settings
from app.core.database import create_engine
from app.models import Base
from app.tasks.search_index import is_modelled

# Any constant: PostgreSQL advisory lock key so that two starting instances migrate in turn.
MIGRATION_LOCK_KEY = 7_324_001

config = context.config
target_metadata = Base.metadata


def _migrate(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        compare_type=True,
        include_object=is_modelled,
        render_as_batch=connection.dialect.name == "sqlite",
        # SQLite runs DDL in transactions too (app.core.database): a failed migration leaves none.
        transactional_ddl=True,
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY}
            )
        context.run_migrations()


async def _run_online() -> None:
    settings = config.attributes.get("settings") or load_settings()
    engine = create_engine(settings, schema=config.attributes.get("schema"))
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_migrate)
    finally:
        await engine.dispose()


if context.is_offline_mode():
    raise SystemExit("Offline (--sql) migrations are not supported; run against a database.")

connection = config.attributes.get("connection")
if connection is not None:
    _migrate(connection)
else:
    asyncio.run(_run_online())
