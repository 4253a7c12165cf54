"""Nothing secret leaves the service: a 500 says nothing about its cause, and the logs (every
logger at DEBUG) never hold a password, a token or a stored hash, through every account flow."""

import logging
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from app.accounts.models import RefreshToken, User
from app.core.config import Settings
from app.main import create_app
from tests.conftest import bearer, make_client, make_settings

pytestmark = pytest.mark.anyio

PASSWORD = "Sup3r secret pässword 🔑"
WRONG_PASSWORD = "n0t the pässword at all"


# --- a 500 ---------------------------------------------------------------------------------------


def app_that_fails(settings: Settings, engine: AsyncEngine) -> FastAPI:
    app = create_app(settings, engine=engine)

    @app.get("/api/crash")
    async def crash() -> None:
        raise RuntimeError(f"internal detail {PASSWORD}")

    @app.get("/api/bad-query")
    async def bad_query() -> None:
        # A failed statement: SQLAlchemy's message carries the SQL and its parameters.
        statement = "INSERT INTO users (email, password_hash) VALUES (?, ?)"
        raise IntegrityError(statement, ("a@example.com", "$2b$12$hash"), Exception("dup"))

    return app


@pytest.mark.parametrize("path", ["/api/crash", "/api/bad-query"])
async def test_a_500_is_generic_json_with_the_request_id(
    settings: Settings, engine: AsyncEngine, path: str
) -> None:
    async with make_client(app_that_fails(settings, engine)) as client:
        response = await client.get(path, headers={"X-Request-ID": "req-42"})
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/json"
    assert response.headers["X-Request-ID"] == "req-42"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.json() == {
        "detail": "Internal server error; quote request id req-42 to report it.",
        "code": "internal_error",
    }


async def test_a_500_is_logged_with_its_traceback_under_the_request_id(
    settings: Settings, engine: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    async with make_client(app_that_fails(settings, engine)) as client:
        await client.get("/api/crash", headers={"X-Request-ID": "req-43"})
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors
    assert "req-43" in errors[0].getMessage()
    assert errors[0].exc_info is not None


# --- logs ----------------------------------------------------------------------------------------


def everything_logged(records: list[logging.LogRecord]) -> str:
    formatter = logging.Formatter()
    return "\n".join(
        f"{formatter.format(record)} {record.args!r} {getattr(record, 'http', '')!r}"
        for record in records
    )


async def run_every_account_flow(client: httpx.AsyncClient) -> dict[str, Any]:
    """Registers, fails and succeeds at logging in, refreshes (and replays a refresh token),
    logs out, and uses tasks; returns every secret handed out."""
    email = "leaky@example.com"
    body = {"email": email, "name": "Leaky", "password": PASSWORD}
    registered = await client.post("/api/auth/register", json=body)
    assert registered.status_code == 201
    auth = registered.json()
    tokens = [auth["access_token"], auth["refresh_token"]]

    async def post(path: str, body: Any, expected: int) -> httpx.Response:
        response = await client.post(path, json=body)
        assert response.status_code == expected, (path, response.text)
        return response

    await post("/api/auth/register", body, 409)
    await post("/api/auth/register", {**body, "email": "not an email"}, 422)
    await post("/api/auth/register", {**body, "password": "short"}, 422)
    await post("/api/auth/register", {**body, "password": PASSWORD * 100}, 422)
    await post("/api/auth/login", {"email": email, "password": WRONG_PASSWORD}, 401)
    await post("/api/auth/login", {"email": "nobody@example.com", "password": PASSWORD}, 401)
    await post("/api/auth/login", {"email": email, "password": ""}, 422)
    await post("/api/auth/login", {"email": "@", "password": PASSWORD}, 422)
    login = (await post("/api/auth/login", {"email": email, "password": PASSWORD}, 200)).json()
    tokens += [login["access_token"], login["refresh_token"]]

    rotated = await post("/api/auth/refresh", {"refresh_token": login["refresh_token"]}, 200)
    tokens += [rotated.json()["access_token"], rotated.json()["refresh_token"]]
    await post("/api/auth/refresh", {"refresh_token": login["refresh_token"]}, 401)  # replayed
    await post("/api/auth/refresh", {"refresh_token": auth["access_token"]}, 401)

    headers = bearer(auth)
    assert (await client.get("/api/auth/me", headers=headers)).status_code == 200
    created = await client.post("/api/tasks", json={"title": "a task"}, headers=headers)
    task_url = f"/api/tasks/{created.json()['id']}"
    await client.patch(task_url, json={"completed": True}, headers=headers)
    await client.get("/api/tasks", params={"search": "task"}, headers=headers)
    await client.delete(task_url, headers=headers)
    await client.get("/api/auth/me", headers={"Authorization": f"Bearer {auth['refresh_token']}"})
    await post("/api/auth/logout", {"refresh_token": auth["refresh_token"]}, 204)
    await client.get("/api/auth/me", headers=headers)  # 401 after logout
    return {"tokens": tokens}


async def test_logs_never_hold_passwords_tokens_or_hashes(
    database_url: str, engine: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    # As verbose as the service's settings go (LOG_LEVEL=debug), with SQL echo on as well, as
    # an operator would turn it on to diagnose (sqlalchemy.engine at INFO: statements and their
    # parameters; DEBUG adds result rows, a deliberate dump of stored data).
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.INFO, logger="sqlalchemy.engine")
    app = create_app(make_settings(database_url, log_level="debug"), engine=engine)
    async with make_client(app) as client:
        handed_out = await run_every_account_flow(client)

    async with engine.connect() as connection:
        password_hash = (await connection.execute(select(User.password_hash))).scalar_one()
        token_hashes = (await connection.execute(select(RefreshToken.token_hash))).scalars().all()
    assert password_hash
    assert len(token_hashes) == 3

    logged = everything_logged(caplog.records)
    assert "POST /api/auth/login 401" in logged  # the capture did see the requests
    secrets = {
        "password": PASSWORD,
        "wrong password": WRONG_PASSWORD,
        "password hash": password_hash,
        "bcrypt salt and digest": password_hash[7:],
        **{f"token {n}": token for n, token in enumerate(handed_out["tokens"])},
        **{f"refresh token hash {n}": digest for n, digest in enumerate(token_hashes)},
    }
    leaked = [what for what, secret in secrets.items() if secret in logged]
    assert not leaked, f"in the logs: {leaked}"
