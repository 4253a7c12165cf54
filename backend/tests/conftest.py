"""Fixtures: a fresh database per test (a temp SQLite file, or a fresh PostgreSQL schema when
TEST_DATABASE_URL is set), the app on it, and an HTTP client that talks to it."""

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from app.core.config import Settings
from app.core.database import create_engine, parse_database_url
from app.main import create_app
from app.models import Base
from app.tasks.search_index import EXTENSIONS

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL")
TEST_SECRET = "test-secret-" + "x" * 40
PASSWORD = "correct horse battery"


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No setting leaks in from the developer's environment or .env file."""
    for name in list(os.environ):
        if name in Settings.model_fields or name.upper() in {
            f.upper() for f in Settings.model_fields
        }:
            monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="session", autouse=True)
def _search_extensions_in_public() -> None:
    """pg_trgm and btree_gin live in `public`, installed once: an extension is one per
    database, so had a test's migration installed it in its own schema, dropping that schema
    would drop it (and every other test's search index) while other tests run beside it
    (pytest-xdist, other checkouts sharing the test database)."""
    if TEST_DATABASE_URL is None:
        return

    async def install() -> None:
        admin = await _admin_engine()
        try:
            for name in EXTENSIONS:
                for _ in range(3):  # another run may be installing it at the same moment
                    try:
                        async with admin.begin() as connection:
                            await connection.execute(
                                text(f"CREATE EXTENSION IF NOT EXISTS {name} SCHEMA public")
                            )
                            await connection.execute(
                                text(f"ALTER EXTENSION {name} SET SCHEMA public")
                            )
                        break
                    except DBAPIError:
                        await asyncio.sleep(0.5)
        finally:
            await admin.dispose()

    asyncio.run(install())


@pytest.fixture
def is_postgres() -> bool:
    return TEST_DATABASE_URL is not None


# For the few tests about one backend's own behaviour; `.ci/run` runs the suite on both.
@pytest.fixture
def needs_postgres(is_postgres: bool) -> None:
    if not is_postgres:
        pytest.skip("PostgreSQL only: set TEST_DATABASE_URL")


@pytest.fixture
def needs_sqlite(is_postgres: bool) -> None:
    if is_postgres:
        pytest.skip("SQLite only")


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return TEST_DATABASE_URL or f"sqlite:///{tmp_path / 'test.db'}"


@pytest.fixture
def schema() -> Iterator[str | None]:
    """A fresh PostgreSQL schema for this test (None on SQLite, where each test has a file)."""
    if TEST_DATABASE_URL is None:
        yield None
        return
    yield f"test_{uuid.uuid4().hex[:16]}"


def make_settings(database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "jwt_secret": TEST_SECRET,
        "bcrypt_rounds": 4,
        "login_rate_limit": "1000/minute",
        "register_rate_limit": "1000/minute",
        "_env_file": None,
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(database_url)


async def _admin_engine() -> AsyncEngine:
    assert TEST_DATABASE_URL is not None
    return create_async_engine(parse_database_url(TEST_DATABASE_URL).url)


@pytest.fixture
async def engine(settings: Settings, schema: str | None) -> AsyncIterator[AsyncEngine]:
    if schema is not None:
        admin = await _admin_engine()
        async with admin.begin() as connection:
            await connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = create_engine(settings, schema=schema)
    async with engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    try:
        yield engine
    finally:
        await engine.dispose()
        if schema is not None:
            async with admin.begin() as connection:
                await connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            await admin.dispose()


def make_client(app: Any, *, client_ip: str = "127.0.0.1") -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(client_ip, 50000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


@pytest.fixture
def app(settings: Settings, engine: AsyncEngine) -> Any:
    return create_app(settings, engine=engine)


@pytest.fixture
async def client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with make_client(app) as client:
        yield client


async def register(
    client: httpx.AsyncClient,
    email: str | None = None,
    *,
    name: str = "Test User",
    password: str = PASSWORD,
) -> dict[str, Any]:
    """Register a user; returns the AuthResponse body."""
    email = email or f"user-{uuid.uuid4().hex[:12]}@example.com"
    response = await client.post(
        "/api/auth/register", json={"email": email, "name": name, "password": password}
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def bearer(auth: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {auth['access_token']}"}


@pytest.fixture
async def user(client: httpx.AsyncClient) -> dict[str, Any]:
    return await register(client)


@pytest.fixture
def auth_headers(user: dict[str, Any]) -> dict[str, str]:
    return bearer(user)


@pytest.fixture
async def other_user_headers(client: httpx.AsyncClient) -> dict[str, str]:
    return bearer(await register(client))
