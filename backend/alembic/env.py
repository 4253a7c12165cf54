"""Alembic environment: async engine from the service's settings; one migrator at a time."""

import asyncio
import time

from alembic import context
from sqlalchemy import Connection, text

from app.core.config import load_settings
from app.core.database import create_engine
from app.models import Base
from app.tasks.search_index import is_modelled

# Any constant: PostgreSQL advisory lock key so that two starting instances migrate in turn.
MIGRATION_LOCK_KEY = 7_324_001
LOCK_POLL_SECONDS = 0.5

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
    is_postgres = connection.dialect.name == "postgresql"
    if is_postgres:
        _take_migration_lock(connection)
    try:
        with context.begin_transaction():
            context.run_migrations()
    finally:
        if is_postgres:
            connection.rollback()  # whatever a failed migration left open
            connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK_KEY})
            connection.commit()


def _take_migration_lock(connection: Connection) -> None:
    """One migrator at a time, until it has finished. A session lock, because a migration that
    builds an index CONCURRENTLY commits on the way (app/core/concurrent_ddl.py); and taken by
    polling, outside any transaction: an instance waiting inside `pg_advisory_lock` would hold
    a snapshot that the concurrent build waits for, while it waits for the lock (a deadlock)."""
    while True:
        taken = connection.scalar(
            text("SELECT pg_try_advisory_lock(:key)"), {"key": MIGRATION_LOCK_KEY}
        )
        connection.commit()
        if taken:
            return
        time.sleep(LOCK_POLL_SECONDS)


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
