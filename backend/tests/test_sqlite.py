"""SQLite under concurrency: readers never wait for each other or for the writer (deferred read
transactions, WAL), writers queue for the lock instead of failing with "database is locked"
(BEGIN IMMEDIATE), and a GET that must write (a Better Auth user seen for the first time) waits
like a writer."""

import asyncio
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, text

from app.accounts.models import User
from app.core.database import ConnectionDep, Database
from app.core.errors import internal_error_body
from app.main import create_app
from tests.conftest import bearer, make_client, make_settings, register
from tests.test_better_auth import KeyServer

pytestmark = pytest.mark.anyio
sqlite_only = pytest.mark.usefixtures("needs_sqlite")

# Far below the 5 s busy_timeout a request that waited for a lock would take before its 503.
NO_WAIT_SECONDS = 2.0


def database(app: FastAPI) -> Database:
    db: Database = app.state.database
    return db


@sqlite_only
async def test_a_reader_does_not_wait_for_another_readers_open_transaction(
    app: FastAPI, client: httpx.AsyncClient, auth_headers: dict[str, str]
) -> None:
    await client.post("/api/tasks", json={"title": "Seen"}, headers=auth_headers)
    async with database(app).reader.connect() as other_reader:
        await other_reader.execute(text("SELECT count(*) FROM tasks"))  # its transaction is open
        assert other_reader.in_transaction()
        async with asyncio.timeout(NO_WAIT_SECONDS):
            listed = await client.get("/api/tasks", headers=auth_headers)
        assert listed.status_code == 200, listed.text
        assert [task["title"] for task in listed.json()] == ["Seen"]


@sqlite_only
async def test_a_reader_proceeds_while_a_writer_holds_the_write_lock(
    app: FastAPI, client: httpx.AsyncClient, auth_headers: dict[str, str]
) -> None:
    await client.post("/api/tasks", json={"title": "Committed"}, headers=auth_headers)
    async with database(app).engine.connect() as writer:
        await writer.execute(text("UPDATE tasks SET title = 'Not yet'"))  # holds the lock
        async with asyncio.timeout(NO_WAIT_SECONDS):
            listed = await client.get("/api/tasks", headers=auth_headers)
            me = await client.get("/api/auth/me", headers=auth_headers)
            health = await client.get("/api/health")
        await writer.rollback()
    assert listed.status_code == 200, listed.text
    assert [task["title"] for task in listed.json()] == ["Committed"]
    assert (me.status_code, health.status_code) == (200, 200)


@sqlite_only
async def test_concurrent_writers_never_fail_with_database_is_locked(
    client: httpx.AsyncClient,
) -> None:
    users = [bearer(await register(client)) for _ in range(3)]

    async def work(headers: dict[str, str], n: int) -> list[int]:
        created = await client.post("/api/tasks", json={"title": f"Task {n}"}, headers=headers)
        if created.status_code != 201:
            return [created.status_code]
        url = f"/api/tasks/{created.json()['id']}"
        patched = await client.patch(url, json={"completed": True}, headers=headers)
        listed = await client.get("/api/tasks", headers=headers)
        deleted = await client.delete(url, headers=headers) if n % 2 else None
        return [created.status_code, patched.status_code, listed.status_code] + (
            [deleted.status_code] if deleted is not None else []
        )

    answers = await asyncio.gather(*(work(users[n % 3], n) for n in range(30)))
    failures = [statuses for statuses in answers if set(statuses) - {200, 201, 204}]
    assert failures == []
    for headers in users:  # every acknowledged write is there: 5 of each user's 10 tasks left
        listed = await client.get("/api/tasks", headers=headers)
        assert len(listed.json()) == 5
        assert all(task["completed"] for task in listed.json())


@sqlite_only
async def test_a_get_that_links_a_new_better_auth_user_waits_for_the_write_lock(
    database_url: str, engine: Any
) -> None:
    """The first token of a Better Auth user creates the local user inside a GET. Begun as a
    read, that transaction would fail at once with "database is locked" (SQLITE_BUSY_SNAPSHOT)
    when a writer commits meanwhile; it must wait for the lock and succeed instead."""
    key_server = KeyServer()
    app = create_app(make_settings(database_url, better_auth_url=key_server.url), engine=engine)
    try:
        async with make_client(app) as client:
            first_token = key_server.sign()
            assert (await client.get("/api/auth/me", headers=bearer_of(first_token))).is_success
            async with engine.connect() as writer:
                await writer.execute(text("UPDATE users SET name = 'Renamed'"))  # holds the lock
                tokens = [key_server.sign() for _ in range(5)]  # five users never seen before
                requests = [
                    asyncio.create_task(client.get("/api/auth/me", headers=bearer_of(token)))
                    for token in tokens
                ]
                await asyncio.sleep(0.5)  # they have read "no such user" and wait to insert
                await writer.commit()
            answers = await asyncio.gather(*requests)
            assert [answer.status_code for answer in answers] == [200] * 5, answers[0].text
            async with engine.connect() as connection:
                count = len((await connection.execute(select(User.id))).all())
            assert count == 6
    finally:
        await app.state.better_auth.aclose()
        key_server.close()


def bearer_of(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize("statement", ["SELEC 1", "SELECT * FROM no_such_table"])
async def test_a_broken_sql_statement_is_a_500_with_the_traceback_in_the_log(
    app: FastAPI, client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture, statement: str
) -> None:
    """SQLite raises OperationalError for a bad statement as for a busy lock; only the latter
    means "try again" (503, tests/test_timeouts.py). A bug is a 500, on either database."""

    @app.get("/api/broken")
    async def broken(connection: ConnectionDep) -> None:
        await connection.execute(text(statement))

    response = await client.get("/api/broken", headers={"X-Request-ID": "broken-1"})
    assert response.status_code == 500, response.text
    assert response.json() == internal_error_body("broken-1")
    assert "Retry-After" not in response.headers
    logged = [r for r in caplog.records if r.name == "app.errors" and r.exc_info]
    assert len(logged) == 1
    assert "broken-1" in logged[0].getMessage()
    assert "Traceback" in caplog.text
    assert statement in caplog.text  # the failing SQL, for whoever reads the log
