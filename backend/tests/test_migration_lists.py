"""Upgrading a v2 database to lists (migration 0007) keeps every row: users, tasks (recurring,
tagged, with reminders), sessions, personal tokens and change-log entries; each user gets an
Inbox holding all their tasks in `created_at` order, and sync cursors stay valid."""

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Column, Connection, MetaData, SmallInteger, Table, text

from app.accounts.tokens import issue_access_token
from app.core.config import Settings
from app.main import create_app
from app.models import Base
from app.sync.cursors import encode_cursor
from app.tasks.listing import search_text
from tests.conftest import make_client
from tests.test_migrations import _drift, _upgrade, empty_engine, pytestmark  # noqa: F401

NOW = datetime.now(UTC).replace(microsecond=0)
USERS = [
    {
        "id": uuid.UUID(int=n + 1),
        "email": f"v2-{n}@example.com",
        "name": f"V2 user {n}",
        "password_hash": "$2b$04$" + "x" * 53,
        "time_zone": "Europe/Paris",
        "created_at": NOW - timedelta(days=10),
        "updated_at": NOW - timedelta(days=9),
        "change_seq": 3 if n == 0 else 0,
        "change_floor": 0,
    }
    for n in range(2)
]
SESSIONS = [
    {
        "id": uuid.UUID(int=100 + n),
        "user_id": user["id"],
        "created_at": NOW - timedelta(days=1),
        "expires_at": NOW + timedelta(days=6),
        "revoked_at": None,
    }
    for n, user in enumerate(USERS)
]


def _task(n: int, user: dict[str, Any], **extra: Any) -> dict[str, Any]:
    title = f"v2 task {n}"
    return {
        "id": uuid.UUID(int=1000 + n),
        "user_id": user["id"],
        "title": title,
        "description": None,
        "completed": False,
        "priority": 2,
        "search_text": search_text(title, None, extra.get("tags")),
        # Created in an order unlike their ids: the Inbox follows created_at.
        "created_at": NOW - timedelta(hours=(n * 7) % 5, minutes=n),
        "updated_at": NOW,
        "version": 1,
        "tags": [],
        **extra,
    }


TASKS = [
    _task(
        0,
        USERS[0],
        due_date=date(2030, 1, 7),
        recurrence="FREQ=WEEKLY",
        recurrence_anchor=date(2030, 1, 7),
        due_at=datetime(2030, 1, 7, 23, tzinfo=UTC),
    ),
    _task(1, USERS[0], tags=["home"]),
    _task(2, USERS[0], remind_at=NOW + timedelta(days=2)),
    _task(3, USERS[0], completed=True, version=4),
    _task(4, USERS[1]),
]
TAG = {"id": uuid.UUID(int=5000), "user_id": USERS[0]["id"], "name": "home", "name_key": "home"}
CHANGES = [
    {
        "user_id": USERS[0]["id"],
        "seq": seq,
        "task_id": TASKS[seq - 1]["id"],
        "kind": "created",
        "at": NOW - timedelta(minutes=5),
    }
    for seq in (1, 2, 3)
]
TOKEN = {
    "id": uuid.UUID(int=7000),
    "user_id": USERS[0]["id"],
    "name": "script",
    "token_hash": "b" * 64,
    "created_at": NOW,
    "expires_at": None,
    "last_used_at": None,
}


def _seed(connection: Connection) -> None:
    stored = MetaData()
    stored.reflect(connection)
    for name, rows in (
        ("users", USERS),
        ("auth_sessions", SESSIONS),
        ("tasks", TASKS),
        ("tags", [TAG]),
        ("task_tags", [{"task_id": TASKS[1]["id"], "tag_id": TAG["id"]}]),
        ("task_changes", CHANGES),
        ("personal_access_tokens", [TOKEN]),
    ):
        known = {column.name for column in stored.tables[name].columns}
        # The v2 columns, typed as the models type them (the priority as the number stored).
        table = Table(
            name,
            MetaData(),
            *(
                Column(c.name, SmallInteger() if c.name == "priority" else c.type)
                for c in Base.metadata.tables[name].columns
                if c.name in known
            ),
        )
        for row in rows:  # one by one: the rows name different columns
            connection.execute(table.insert(), {k: v for k, v in row.items() if k in known})


def _v2_rows(connection: Connection) -> dict[str, list[tuple[object, ...]]]:
    columns = {
        "users": "id, email, name, password_hash, time_zone, change_seq, change_floor",
        "auth_sessions": "id, user_id, expires_at, revoked_at",
        "tasks": "id, user_id, title, completed, priority, tags, due_date, recurrence, "
        "recurrence_anchor, remind_at, version, created_at, updated_at",
        "task_tags": "task_id, tag_id",
        "task_changes": "user_id, seq, task_id, kind",
        "personal_access_tokens": "id, user_id, token_hash",
    }
    return {
        table: [
            tuple(str(value) for value in row)
            for row in connection.execute(text(f"SELECT {names} FROM {table} ORDER BY 1, 2"))
        ]
        for table, names in columns.items()
    }


async def test_upgrading_a_v2_database_puts_every_task_in_its_owners_inbox(  # type: ignore[no-untyped-def]  # noqa: E501
    empty_engine,  # noqa: F811 - the fixture of test_migrations
    settings: Settings,
) -> None:
    # Not inside `begin()`: migrations that build indexes concurrently commit on the connection.
    async with empty_engine.connect() as connection:
        await connection.run_sync(_upgrade, settings, "0006")
        await connection.run_sync(_seed)
        before = await connection.run_sync(_v2_rows)
        await connection.commit()
    async with empty_engine.connect() as connection:
        await connection.run_sync(_upgrade, settings)
        await connection.commit()
    async with empty_engine.connect() as connection:
        assert await connection.run_sync(_v2_rows) == before
        assert await connection.run_sync(_drift) == []
        entities = await connection.execute(text("SELECT DISTINCT entity FROM task_changes"))
        assert [row[0] for row in entities] == ["task"]

    app = create_app(settings, engine=empty_engine)
    for user, session in zip(USERS, SESSIONS, strict=True):
        token, _ = issue_access_token(
            user_id=user["id"], session_id=session["id"], settings=settings
        )
        headers = {"Authorization": f"Bearer {token}"}
        async with make_client(app) as client:
            [inbox] = (await client.get("/api/lists", headers=headers)).json()
            assert inbox["is_inbox"] is True
            assert inbox["owner_id"] == str(user["id"])
            listed = await client.get("/api/tasks", params={"sort": "position"}, headers=headers)
            mine = sorted(
                (t for t in TASKS if t["user_id"] == user["id"]),
                key=lambda t: (t["created_at"], t["id"]),
            )
            assert [t["id"] for t in listed.json()] == [str(t["id"]) for t in mine]
            assert {t["list_id"] for t in listed.json()} == {inbox["id"]}
            if user is USERS[0]:
                # A cursor handed out before the upgrade still works: nothing missed since.
                cursor = encode_cursor(user["id"], 3)
                delta = await client.get(
                    "/api/tasks/sync", params={"cursor": cursor}, headers=headers
                )
                assert delta.status_code == 200, delta.text
                assert delta.json()["tasks"] == []
                patched = await client.patch(
                    f"/api/tasks/{TASKS[0]['id']}", json={"completed": True}, headers=headers
                )
                assert patched.json()["due_date"] == "2030-01-14"  # still recurring
                delta = await client.get(
                    "/api/tasks/sync", params={"cursor": cursor}, headers=headers
                )
                changed = {t["id"] for t in delta.json()["tasks"]}
                assert str(TASKS[0]["id"]) in changed
                tagged = await client.get("/api/tasks", params={"tag": "HOME"}, headers=headers)
                assert [t["id"] for t in tagged.json()] == [str(TASKS[1]["id"])]
