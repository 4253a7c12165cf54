"""Real server processes for the event tests: one on SQLite, or on PostgreSQL (TEST_DATABASE_URL)
several instances on a database of their own, sharing a Redis broker like production."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from sqlalchemy.engine import make_url

from tests.conftest import PASSWORD, TEST_DATABASE_URL
from tests.support.server import Server, free_port, running_server, server_env

LOCAL_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def _admin(sql: str) -> None:
    assert TEST_DATABASE_URL is not None
    url = make_url(TEST_DATABASE_URL.replace("postgres://", "postgresql://", 1))

    async def run() -> None:
        connection = await asyncpg.connect(
            host=url.host, port=url.port or 5432, user=url.username, database=url.database
        )
        try:
            await connection.execute(sql)
        finally:
            await connection.close()

    # In a thread of its own: the caller may be running an event loop already.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, run()).result()


@contextmanager
def own_postgres_database() -> Iterator[str]:
    """A fresh database on TEST_DATABASE_URL's server (the servers migrate it), dropped after."""
    assert TEST_DATABASE_URL is not None
    name = f"todo_events_{uuid.uuid4().hex[:12]}"
    _admin(f'CREATE DATABASE "{name}"')
    try:
        yield str(make_url(TEST_DATABASE_URL).set(database=name).render_as_string(False))
    finally:
        _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def instances(
    tmp_path: Path, count: int = 2, *, database_url: str | None = None, **settings: str
) -> Iterator[list[Server]]:
    """`count` instances on PostgreSQL sharing Redis (one on SQLite, which is one machine's)."""
    with ExitStack() as stack:
        if database_url is None and TEST_DATABASE_URL is not None:
            database_url = stack.enter_context(own_postgres_database())
        if database_url is None:
            database_url = f"sqlite:///{tmp_path / 'events.db'}"
        if database_url.startswith("sqlite"):
            count = 1
        elif count > 1:
            settings.setdefault("events_broker_url", LOCAL_REDIS_URL)
        servers = []
        for n in range(count):
            env = server_env(database_url, free_port(), **settings)
            log = tmp_path / f"server-{n}-{uuid.uuid4().hex[:6]}.log"
            servers.append(stack.enter_context(running_server(env, log)))
        yield servers


def register_user(server: Server) -> dict[str, Any]:
    body = {"email": f"{uuid.uuid4().hex}@example.com", "name": "Events", "password": PASSWORD}
    response = httpx.post(f"{server.base_url}/api/auth/register", json=body, timeout=10)
    assert response.status_code == 201, response.text
    auth: dict[str, Any] = response.json()
    return auth
