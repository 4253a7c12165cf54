"""Migrations build exactly the schema the models describe, and can be undone."""

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, inspect, text
from sqlalchemy.ext.asyncio import create_async_engine

from app.core.config import Settings
from app.core.database import create_engine, parse_database_url
from app.core.migrations import alembic_config
from app.models import Base
from tests.conftest import TEST_DATABASE_URL

pytestmark = pytest.mark.anyio


@pytest.fixture
async def empty_engine(settings: Settings, schema: str | None):  # type: ignore[no-untyped-def]
    admin = None
    if schema is not None:
        assert TEST_DATABASE_URL
        admin = create_async_engine(parse_database_url(TEST_DATABASE_URL).url)
        async with admin.begin() as connection:
            await connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = create_engine(settings, schema=schema)
    yield engine
    await engine.dispose()
    if admin is not None:
        async with admin.begin() as connection:
            await connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        await admin.dispose()


def _upgrade(connection: Connection, settings: Settings, revision: str = "head") -> None:
    config = alembic_config(settings)
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


def _downgrade(connection: Connection, settings: Settings) -> None:
    config = alembic_config(settings)
    config.attributes["connection"] = connection
    command.downgrade(config, "base")


def _drift(connection: Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


async def test_migrations_match_the_models(empty_engine, settings: Settings) -> None:  # type: ignore[no-untyped-def]
    async with empty_engine.begin() as connection:
        await connection.run_sync(_upgrade, settings)
    async with empty_engine.connect() as connection:
        assert await connection.run_sync(_drift) == []
        indexes = await connection.run_sync(
            lambda c: {i["name"] for i in inspect(c).get_indexes("tasks")}
        )
    assert {"ix_tasks_user_created", "ix_tasks_user_updated", "ix_tasks_user_priority"} <= indexes


async def test_migrations_downgrade_to_empty_and_upgrade_again(
    empty_engine, settings: Settings
) -> None:  # type: ignore[no-untyped-def]
    async with empty_engine.begin() as connection:
        await connection.run_sync(_upgrade, settings)
    async with empty_engine.begin() as connection:
        await connection.run_sync(_downgrade, settings)
    async with empty_engine.connect() as connection:
        tables = await connection.run_sync(lambda c: set(inspect(c).get_table_names()))
    assert tables <= {"alembic_version"}
    async with empty_engine.begin() as connection:
        await connection.run_sync(_upgrade, settings)
