"""Dead sessions (expired or revoked) and their refresh tokens are deleted 30 days after they
died, in bounded batches, at start and then periodically; live and recently dead ones stay."""

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from app.accounts.cleanup import SESSION_RETENTION, delete_dead_sessions
from app.accounts.models import AuthSession, RefreshToken
from app.core.models import utcnow
from tests.conftest import register

pytestmark = pytest.mark.anyio

DAY = timedelta(days=1)


async def session_of(
    client: httpx.AsyncClient, engine: AsyncEngine, **ages: timedelta | None
) -> dict[str, Any]:
    """A user with one session, its `expires_at`/`revoked_at` set to now minus `ages`."""
    auth = await register(client)
    values = {column: utcnow() - age for column, age in ages.items() if age is not None}
    if values:
        user_id = uuid.UUID(auth["user"]["id"])
        async with engine.begin() as connection:
            statement = update(AuthSession).where(AuthSession.user_id == user_id)
            await connection.execute(statement.values(values))
    return auth


async def surviving(engine: AsyncEngine, sessions: dict[str, dict[str, Any]]) -> set[str]:
    """Which of `sessions` are still stored, each with its refresh token (none orphaned)."""
    async with engine.connect() as connection:
        stored = {
            str(row.user_id): row.id
            for row in await connection.execute(select(AuthSession.id, AuthSession.user_id))
        }
        tokens = (await connection.execute(select(func.count()).select_from(RefreshToken))).scalar()
    assert tokens == len(stored)  # deleted sessions took their refresh tokens with them
    return {name for name, auth in sessions.items() if auth["user"]["id"] in stored}


async def test_sessions_dead_for_longer_than_the_retention_are_deleted(
    app: FastAPI, client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    assert SESSION_RETENTION == 30 * DAY
    sessions = {
        "live": await session_of(client, engine),
        "expired 31 days ago": await session_of(client, engine, expires_at=31 * DAY),
        "revoked 31 days ago": await session_of(client, engine, revoked_at=31 * DAY),
        "expired 29 days ago": await session_of(client, engine, expires_at=29 * DAY),
        "revoked 29 days ago": await session_of(client, engine, revoked_at=29 * DAY),
        "expired just now": await session_of(client, engine, expires_at=DAY / 24),
    }
    deleted = await delete_dead_sessions(app.state.database)
    assert deleted == 2
    assert await surviving(engine, sessions) == {
        "live",
        "expired 29 days ago",
        "revoked 29 days ago",
        "expired just now",
    }
    # The live session works as before.
    refreshed = await client.post(
        "/api/auth/refresh", json={"refresh_token": sessions["live"]["refresh_token"]}
    )
    assert refreshed.status_code == 200, refreshed.text


async def test_a_run_deletes_a_bounded_number_and_leaves_the_rest_for_the_next(
    app: FastAPI, client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    sessions = {str(n): await session_of(client, engine, expires_at=40 * DAY) for n in range(5)}
    database = app.state.database
    assert await delete_dead_sessions(database, batch_size=2, max_batches=1) == 2
    assert len(await surviving(engine, sessions)) == 3
    assert await delete_dead_sessions(database, batch_size=2, max_batches=10) == 3
    assert await surviving(engine, sessions) == set()


async def test_the_cleanup_runs_when_the_app_starts(
    app: FastAPI, client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    sessions = {
        "live": await session_of(client, engine),
        "dead": await session_of(client, engine, revoked_at=60 * DAY),
    }
    async with asyncio.timeout(10), app.router.lifespan_context(app):
        while await surviving(engine, sessions) != {"live"}:
            await asyncio.sleep(0.05)
