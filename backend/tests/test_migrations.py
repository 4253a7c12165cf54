"""Migrations build exactly the schema the models describe, and can be undone."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Column, Connection, MetaData, SmallInteger, Table, inspect, text
from sqlalchemy.ext.asyncio import create_async_engine

from app.accounts.tokens import issue_access_token
from app.core.config import Settings
from app.core.database import create_engine, parse_database_url
from app.core.migrations import alembic_config
from app.main import create_app
from app.models import Base
from app.tasks.listing import search_text
from app.tasks.search_index import TRIGRAM_INDEX, is_modelled
from tests.conftest import TEST_DATABASE_URL, make_client

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
    context = MigrationContext.configure(
        connection, opts={"compare_type": True, "include_object": is_modelled}
    )
    return list(compare_metadata(context, Base.metadata))


async def test_migrations_match_the_models(empty_engine, settings: Settings) -> None:  # type: ignore[no-untyped-def]
    async with empty_engine.begin() as connection:
        await connection.run_sync(_upgrade, settings)
    async with empty_engine.connect() as connection:
        assert await connection.run_sync(_drift) == []
        indexes = await connection.run_sync(
            lambda c: {i["name"] for i in inspect(c).get_indexes("tasks")}
        )
    assert {"ix_tasks_list_created", "ix_tasks_list_updated", "ix_tasks_list_priority"} <= indexes
    # Search's trigram index: PostgreSQL only (SQLite keeps the plain scan).
    assert (TRIGRAM_INDEX in indexes) == (connection.dialect.name == "postgresql")


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


V1_USERS = [
    {
        "id": uuid.UUID(int=n + 1),
        "email": f"v1-{n}@example.com",
        "name": f"V1 user {n}",
        "password_hash": "$2b$04$" + "x" * 53,
        "created_at": datetime(2026, 1, 1, tzinfo=UTC),
        "updated_at": datetime(2026, 1, 2, tzinfo=UTC),
    }
    for n in range(3)
]
V1_SESSIONS = [
    {
        "id": uuid.UUID(int=100 + n),
        "user_id": user["id"],
        "created_at": datetime(2026, 1, 3, tzinfo=UTC),
        "expires_at": datetime(2026, 1, 10, tzinfo=UTC),
        "revoked_at": None if n else datetime(2026, 1, 4, tzinfo=UTC),
    }
    for n, user in enumerate(V1_USERS)
]
V1_TASKS = [
    {
        "id": uuid.UUID(int=1000 + n),
        "user_id": V1_USERS[n % 3]["id"],
        "title": f"v1 task {n} ✓",
        "description": None if n % 2 else f"details {n}",
        "completed": n % 3 == 0,
        "priority": 1 + n % 3,
        "search_text": search_text(f"v1 task {n} ✓", None if n % 2 else f"details {n}"),
        "created_at": datetime(2026, 1, 5, 12, 0, n, tzinfo=UTC),
        "updated_at": datetime(2026, 1, 6, 12, 0, n, tzinfo=UTC),
    }
    for n in range(10)
]


def _v1_table(name: str, columns: dict[str, object]) -> Table:
    """A v1 table with only its v1 columns, typed as the models type them (the priority as
    the number stored)."""
    return Table(
        name,
        MetaData(),
        *(
            Column(c.name, SmallInteger() if c.name == "priority" else c.type)
            for c in Base.metadata.tables[name].columns
            if c.name in columns
        ),
    )


def _v1_rows(connection: Connection) -> dict[str, list[tuple[object, ...]]]:
    """The v1 columns of every v1 table, as stored."""
    tables = {
        "users": [*V1_USERS[0]],
        "auth_sessions": [*V1_SESSIONS[0]],
        "tasks": [*V1_TASKS[0]],
    }
    return {
        table: [
            tuple(row)
            for row in connection.execute(
                text(f"SELECT {', '.join(columns)} FROM {table} ORDER BY id")
            )
        ]
        for table, columns in tables.items()
    }


async def test_upgrading_a_v1_database_keeps_every_row(  # type: ignore[no-untyped-def]
    empty_engine, settings: Settings
) -> None:
    async with empty_engine.begin() as connection:
        await connection.run_sync(_upgrade, settings, "0001")
        for table, rows in (
            ("users", V1_USERS),
            ("auth_sessions", V1_SESSIONS),
            ("tasks", V1_TASKS),
        ):
            await connection.execute(_v1_table(table, rows[0]).insert(), rows)
        refresh = {
            "token_hash": "a" * 64,
            "session_id": V1_SESSIONS[1]["id"],
            "created_at": datetime(2026, 1, 3, tzinfo=UTC),
            "used_at": None,
        }
        await connection.execute(_v1_table("refresh_tokens", refresh).insert(), [refresh])
        before = await connection.run_sync(_v1_rows)
    async with empty_engine.begin() as connection:
        await connection.run_sync(_upgrade, settings)
    async with empty_engine.connect() as connection:
        assert await connection.run_sync(_v1_rows) == before
        assert await connection.scalar(text("SELECT count(*) FROM refresh_tokens")) == 1
        zones = (await connection.execute(text("SELECT DISTINCT time_zone FROM users"))).all()
        assert [tuple(zone) for zone in zones] == [("UTC",)]
        new = (
            await connection.execute(
                text("SELECT version, tags, due_date, due_at, recurrence, series_id FROM tasks")
            )
        ).all()
        assert {(row[0], str(row[1])) for row in new} == {(1, "[]")}
        assert {row[2:] for row in new} == {(None, None, None, None)}
        assert await connection.run_sync(_drift) == []

    # The service reads and writes the upgraded rows as it does its own.
    app = create_app(settings, engine=empty_engine)
    user = V1_USERS[1]
    token, _ = issue_access_token(
        user_id=user["id"], session_id=V1_SESSIONS[1]["id"], settings=settings
    )
    headers = {"Authorization": f"Bearer {token}"}
    # The v1 session expired in 2026-01: make it current, as if the user had just signed in.
    async with empty_engine.begin() as connection:
        await connection.execute(
            text("UPDATE auth_sessions SET expires_at = :later"),
            {"later": datetime.now(UTC) + timedelta(days=1)},
        )
    async with make_client(app) as client:
        listed = await client.get("/api/tasks", params={"sort": "title"}, headers=headers)
        assert listed.status_code == 200, listed.text
        mine = [t for t in V1_TASKS if t["user_id"] == user["id"]]
        assert [t["title"] for t in listed.json()] == sorted(t["title"] for t in mine)
        task = listed.json()[0]
        assert (task["version"], task["tags"], task["due_date"]) == (1, [], None)
        searched = await client.get("/api/tasks", params={"search": "DETAILS"}, headers=headers)
        assert {t["id"] for t in searched.json()} == {
            str(t["id"]) for t in mine if t["description"]
        }
        patched = await client.patch(
            f"/api/tasks/{task['id']}",
            json={"tags": ["old"], "due_date": "2030-01-01", "recurrence": "FREQ=DAILY"},
            headers=headers,
        )
        assert patched.status_code == 200, patched.text
        assert patched.json()["version"] == 2
        me = await client.get("/api/auth/me", headers=headers)
        assert me.json()["time_zone"] == "UTC"
