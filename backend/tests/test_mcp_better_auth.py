"""/mcp and Better Auth, against the real `better-auth` package (tests/better_auth/issuer.mjs):
its tokens are accepted when issued for the MCP resource and refused for any other audience."""

import os
import uuid
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from fastapi import FastAPI

from app.core.config import Settings
from app.main import create_app
from tests.conftest import make_client, make_settings
from tests.support.better_auth import BetterAuthIssuer, BetterAuthUser, ensure_installed
from tests.support.mcp import assert_refused, call, mcp_client

pytestmark = pytest.mark.anyio

RESOURCE = "http://testserver/mcp"
LIST_TOOLS = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
MCP_HEADERS = {"Accept": "application/json, text/event-stream"}


@pytest.fixture(scope="module")
def issuer() -> Iterator[BetterAuthIssuer]:
    if not ensure_installed():
        reason = "the Better Auth tests need Node.js and npm on PATH to run the better-auth package"
        if os.environ.get("REQUIRE_BETTER_AUTH_TESTS") == "1":
            pytest.fail(f"{reason} (REQUIRE_BETTER_AUTH_TESTS=1)")
        pytest.skip(reason)
    with BetterAuthIssuer("EdDSA") as running:
        yield running


@pytest.fixture
def settings(database_url: str, issuer: BetterAuthIssuer) -> Settings:
    return make_settings(database_url, mcp_resource_url=RESOURCE, better_auth_url=issuer.url)


@pytest.fixture
async def running_app(app: FastAPI) -> AsyncIterator[FastAPI]:
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def client(running_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with make_client(running_app) as client:
        yield client


@pytest.fixture
def ba_user(issuer: BetterAuthIssuer) -> BetterAuthUser:
    return issuer.sign_up(f"mcp-{uuid.uuid4().hex[:12]}@example.com", "Grace Hopper")


async def test_a_better_auth_token_for_the_mcp_resource_is_accepted(
    running_app: FastAPI,
    client: httpx.AsyncClient,
    issuer: BetterAuthIssuer,
    ba_user: BetterAuthUser,
) -> None:
    token = issuer.resource_token(ba_user, RESOURCE)
    async with mcp_client(running_app, token) as mcp:
        created = await call(mcp, "create_task", {"task": {"title": "Via the assistant"}})
    # The same local user as the frontend's own tokens: linked by (issuer, sub).
    frontend = {"Authorization": f"Bearer {issuer.token(ba_user)}"}
    listed = await client.get("/api/tasks", headers=frontend)
    assert [task["id"] for task in listed.json()] == [created["id"]]
    me = await client.get("/api/auth/me", headers=frontend)
    assert me.json()["id"] == created["user_id"]
    assert me.json()["email"] == ba_user.email


async def test_better_auth_tokens_for_another_audience_are_refused(
    running_app: FastAPI,
    client: httpx.AsyncClient,
    issuer: BetterAuthIssuer,
    ba_user: BetterAuthUser,
) -> None:
    wrong = {
        "the frontend's token": issuer.token(ba_user),
        "another MCP server's token": issuer.resource_token(ba_user, "http://elsewhere/mcp"),
    }
    for what, token in wrong.items():
        response = await client.post(
            "/mcp", json=LIST_TOOLS, headers={**MCP_HEADERS, "Authorization": f"Bearer {token}"}
        )
        assert response.status_code == 401, what
        assert response.json()["code"] == "token_invalid", what
        assert "resource_metadata=" in response.headers["www-authenticate"]
        await assert_refused(running_app, token)
    # And a token for the MCP resource is not one for the REST API either.
    mcp_token = issuer.resource_token(ba_user, RESOURCE)
    rest = await client.get("/api/tasks", headers={"Authorization": f"Bearer {mcp_token}"})
    assert rest.status_code == 401


async def test_the_metadata_names_better_auth_as_the_authorization_server(
    client: httpx.AsyncClient, issuer: BetterAuthIssuer
) -> None:
    body = (await client.get("/.well-known/oauth-protected-resource/mcp")).json()
    assert body["resource"] == RESOURCE
    assert body["authorization_servers"] == [issuer.url]


async def test_an_unreachable_key_provider_is_503_not_401(
    database_url: str, ba_user: BetterAuthUser, issuer: BetterAuthIssuer, engine: object
) -> None:
    """When the JWKS cannot be fetched, the client should retry, not drop its token."""
    token = issuer.resource_token(ba_user, RESOURCE)
    unreachable = make_settings(
        database_url,
        mcp_resource_url=RESOURCE,
        better_auth_url=issuer.url,
        better_auth_jwks_url="http://127.0.0.1:9/jwks",
    )
    app = create_app(unreachable, engine=engine)  # type: ignore[arg-type]
    async with app.router.lifespan_context(app), make_client(app) as client:
        response = await client.post(
            "/mcp", json=LIST_TOOLS, headers={**MCP_HEADERS, "Authorization": f"Bearer {token}"}
        )
    assert response.status_code == 503
    assert response.json()["code"] == "auth_provider_unavailable"
    assert "retry-after" in response.headers
    assert "www-authenticate" not in response.headers
