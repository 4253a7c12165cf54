"""Migrations that build an index on a table the service writes to build it CONCURRENTLY, so
that writes go on meanwhile: the trigram index on tasks (0006), the session clean-up's indexes
on auth_sessions (0008). PostgreSQL only: SQLite has no such thing, and one writer anyway.

How it is seen: a transaction that has written to the table and stays open makes the index
build wait (a plain one for its SHARE lock, a concurrent one for the writers to finish). While
it waits, another write must go through: behind a plain build's queued SHARE lock it would
wait until the first transaction ends."""

import asyncio
import uuid

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.core.config import Settings
from app.core.migrations import alembic_config
from app.tasks.search_index import TRIGRAM_INDEX

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("needs_postgres")]

# Generous: a write that is not blocked takes milliseconds, however busy the machine.
WAIT_SECONDS = 60

NEW_USER = """INSERT INTO users (id, email, name, created_at, updated_at)
              VALUES (:id, :email, 'U', now(), now())"""
# The tables are the models' (lists included): a task needs its list.
NEW_INBOX = """INSERT INTO lists (id, name, inbox_of, archived, created_at, updated_at, version)
               VALUES (:id, 'Inbox', :id, false, now(), now(), 1)"""
WRITES = {
    "tasks": """INSERT INTO tasks (id, user_id, list_id, position, title, completed, priority,
                                   search_text, created_at, updated_at)
                VALUES (gen_random_uuid(), :user_id, :user_id, md5(random()::text), 'a task',
                        false, 2, 'a task', now(), now())""",
    "auth_sessions": """INSERT INTO auth_sessions (id, user_id, created_at, expires_at)
                        VALUES (gen_random_uuid(), :user_id, now(), now() + interval '1 day')""",
}


def _config(connection: Connection, settings: Settings) -> Config:
    config = alembic_config(settings)
    config.attributes["connection"] = connection
    return config


def _upgrade(connection: Connection, settings: Settings, revision: str) -> None:
    command.upgrade(_config(connection, settings), revision)


async def _new_user(connection: AsyncConnection) -> uuid.UUID:
    user_id = uuid.uuid4()
    await connection.execute(text(NEW_USER), {"id": user_id, "email": f"{user_id}@example.com"})
    await connection.execute(text(NEW_INBOX), {"id": user_id})  # the Inbox shares the user's id
    return user_id


async def _index_build_waits(connection: AsyncConnection) -> None:
    """Until the migration's CREATE INDEX is running and waiting for a lock."""
    query = text(
        "SELECT count(*) FROM pg_stat_activity WHERE query ILIKE 'CREATE INDEX%'"
        " AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
    )
    async with asyncio.timeout(WAIT_SECONDS):
        while not await connection.scalar(query):
            await connection.rollback()
            await asyncio.sleep(0.05)
    await connection.rollback()


@pytest.mark.parametrize(
    ("before", "migration", "table", "indexes"),
    [
        ("0005", "0006", "tasks", [TRIGRAM_INDEX]),
        (
            "0007",
            "0008",
            "auth_sessions",
            ["ix_auth_sessions_expires_at", "ix_auth_sessions_revoked_at"],
        ),
    ],
)
async def test_writes_go_on_while_a_migration_builds_an_index(
    engine: AsyncEngine,
    settings: Settings,
    before: str,
    migration: str,
    table: str,
    indexes: list[str],
) -> None:
    async with engine.begin() as connection:
        # `engine` comes with the models' schema: start from the revision before instead.
        for name in indexes:
            await connection.execute(text(f"DROP INDEX IF EXISTS {name}"))
        await connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
    async with engine.connect() as connection:
        await connection.run_sync(lambda c: command.stamp(_config(c, settings), before))
        await connection.commit()
        user_id = await _new_user(connection)
        await connection.commit()

    async with engine.connect() as holder, engine.connect() as writer, engine.connect() as probe:
        # A transaction that has written to the table and is not over yet.
        await holder.execute(text(WRITES[table]), {"user_id": user_id})
        async with engine.connect() as migrator:
            # Up to the index's own revision: the ones after it expect their predecessors'
            # schema, not the models' this test starts from.
            building = asyncio.create_task(migrator.run_sync(_upgrade, settings, migration))
            await _index_build_waits(probe)
            await writer.execute(text(f"SET lock_timeout = '{WAIT_SECONDS}s'"))
            try:
                async with asyncio.timeout(WAIT_SECONDS):
                    await writer.execute(text(WRITES[table]), {"user_id": user_id})
                    await writer.commit()
            finally:
                await holder.commit()
                await building
    async with engine.connect() as connection:
        valid = await connection.scalar(
            text(
                "SELECT count(*) FROM pg_index AS i JOIN pg_class AS c ON c.oid = i.indexrelid"
                " WHERE c.relname = ANY(:names) AND i.indisvalid"
                " AND c.relnamespace = current_schema()::regnamespace"
            ),
            {"names": indexes},
        )
        assert valid == len(indexes)
        assert await connection.scalar(text(f"SELECT count(*) FROM {table}")) == 2
