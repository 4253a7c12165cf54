"""Bounded waits, each ending in a clean 503 instead of a hang: a query runs at most
DB_STATEMENT_TIMEOUT_MS and a request waits at most DB_POOL_TIMEOUT for a pooled connection
(PostgreSQL), at most DB_CONNECT_TIMEOUT for a database that never answers, and on SQLite at most
the 5 s busy_timeout for the write lock."""

import socket
import time
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.config import Settings
from app.core.database import SessionDep, create_engine, is_unavailable
from app.core.sqlite import BUSY_TIMEOUT_MS
from app.main import create_app
from tests.conftest import bearer, make_client, make_settings, register
from tests.support.timing import within

pytestmark = pytest.mark.anyio

STATEMENT_TIMEOUT = 0.3
POOL_TIMEOUT = 0.5
CONNECT_TIMEOUT = 1.0
NEVER = 600  # seconds: what a wait without its bound would take


@pytest.fixture
async def quick_timeouts(
    database_url: str, schema: str | None, engine: AsyncEngine
) -> AsyncIterator[tuple[Settings, AsyncEngine]]:
    """An engine on the test's database (tables made by `engine`) with a 300 ms statement
    timeout and a pool of one connection that is waited for at most 500 ms."""
    settings = make_settings(
        database_url,
        db_statement_timeout_ms=int(STATEMENT_TIMEOUT * 1000),
        db_pool_size=1,
        db_max_overflow=0,
        db_pool_timeout=POOL_TIMEOUT,
    )
    quick = create_engine(settings, schema=schema)
    yield settings, quick
    await quick.dispose()


@pytest.mark.usefixtures("needs_postgres")
async def test_statement_timeout_cancels_a_slow_query(
    quick_timeouts: tuple[Settings, AsyncEngine],
) -> None:
    _, quick = quick_timeouts
    started = time.monotonic()
    with pytest.raises(DBAPIError) as raised:
        async with quick.connect() as connection:
            await connection.execute(text(f"SELECT pg_sleep({NEVER})"))
    assert time.monotonic() - started < within(STATEMENT_TIMEOUT)
    assert "statement timeout" in str(raised.value)
    assert is_unavailable(raised.value)


@pytest.mark.usefixtures("needs_postgres")
async def test_request_running_into_the_statement_timeout_is_a_clean_503(
    quick_timeouts: tuple[Settings, AsyncEngine],
) -> None:
    settings, quick = quick_timeouts
    app = create_app(settings, engine=quick)

    @app.get("/api/slow")
    async def slow(session: SessionDep) -> dict[str, str]:
        await session.execute(text(f"SELECT pg_sleep({NEVER})"))
        return {}

    async with make_client(app) as client:
        started = time.monotonic()
        response = await client.get("/api/slow")
    assert time.monotonic() - started < within(STATEMENT_TIMEOUT)
    assert response.status_code == 503
    assert response.json() == {
        "detail": "The database is unavailable; try again shortly.",
        "code": "database_unavailable",
    }
    assert response.headers["Retry-After"].isdigit()


@pytest.mark.usefixtures("needs_postgres")
async def test_no_free_pooled_connection_is_503_after_the_pool_timeout(
    quick_timeouts: tuple[Settings, AsyncEngine],
) -> None:
    settings, quick = quick_timeouts
    async with make_client(create_app(settings, engine=quick)) as client:
        headers = bearer(await register(client))
        async with quick.connect() as held:  # the pool's only connection
            await held.execute(text("SELECT 1"))
            started = time.monotonic()
            response = await client.get("/api/auth/me", headers=headers)
            waited = time.monotonic() - started
        assert response.status_code == 503, response.text
        assert response.json()["code"] == "database_unavailable"
        assert response.headers["Retry-After"].isdigit()
        assert POOL_TIMEOUT <= waited < within(POOL_TIMEOUT)
        # Once the connection is back, the same request works.
        assert (await client.get("/api/auth/me", headers=headers)).status_code == 200


@pytest.mark.usefixtures("needs_sqlite")
async def test_sqlite_write_lock_wait_is_bounded_by_busy_timeout(
    settings: Settings, engine: AsyncEngine
) -> None:
    async with make_client(create_app(settings, engine=engine)) as client:
        headers = bearer(await register(client))
        async with engine.begin() as holder:  # BEGIN IMMEDIATE: holds the write lock
            await holder.execute(text("SELECT 1"))
            started = time.monotonic()
            response = await client.post("/api/tasks", json={"title": "x"}, headers=headers)
            waited = time.monotonic() - started
        assert response.status_code == 503, response.text
        assert response.json()["code"] == "database_unavailable"
        busy_timeout = BUSY_TIMEOUT_MS / 1000
        assert busy_timeout <= waited < within(busy_timeout)
        created = await client.post("/api/tasks", json={"title": "x"}, headers=headers)
        assert created.status_code == 201


async def test_a_database_that_never_answers_is_503_within_the_connect_timeout() -> None:
    # A listening socket that never speaks: the TCP handshake succeeds, PostgreSQL's does not,
    # as with a hung server or a half-dead network path.
    with socket.socket() as black_hole:
        black_hole.bind(("127.0.0.1", 0))
        black_hole.listen()
        url = f"postgresql://postgres@127.0.0.1:{black_hole.getsockname()[1]}/todo"
        settings = make_settings(url, db_connect_timeout=CONNECT_TIMEOUT)
        engine = create_engine(settings)
        attempts: list[float] = []
        event.listen(engine.sync_engine, "do_connect", lambda *_: attempts.append(1))
        app = create_app(settings, engine=engine)
        async with make_client(app) as client:
            started = time.monotonic()
            body = {"email": "a@example.com", "password": "whatever1"}
            response = await client.post("/api/auth/login", json=body)
            waited = time.monotonic() - started
            login_attempts = len(attempts)
            health = await client.get("/api/health")
    assert response.status_code == 503, response.text
    assert response.json()["code"] == "database_unavailable"
    assert response.headers["Retry-After"].isdigit()
    # One connect attempt, given up after the connect timeout: not two, not a hang.
    assert login_attempts == 1
    assert CONNECT_TIMEOUT <= waited < within(CONNECT_TIMEOUT)
    assert health.status_code == 503
