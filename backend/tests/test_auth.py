"""Accounts and sessions: register, login, refresh with rotation, logout, me — and the attacks."""

import asyncio
import base64
import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from app.accounts.models import AuthSession, RefreshToken, User
from app.core.config import Settings
from app.main import create_app
from tests.conftest import PASSWORD, TEST_SECRET, bearer, make_client, make_settings, register

pytestmark = pytest.mark.anyio


def claims_of(token: str) -> dict[str, Any]:
    return jwt.decode(token, options={"verify_signature": False})


def forge(claims: dict[str, Any], *, key: str = TEST_SECRET, algorithm: str = "HS256") -> str:
    return jwt.encode(claims, key, algorithm=algorithm)


def b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


async def me(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})


async def refresh(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.post("/api/auth/refresh", json={"refresh_token": token})


async def login(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> httpx.Response:
    return await client.post("/api/auth/login", json={"email": email, "password": password})


def assert_401(response: httpx.Response, code: str) -> None:
    assert response.status_code == 401, response.text
    assert response.json()["code"] == code
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


# --- register -----------------------------------------------------------------------------------


async def test_register_returns_tokens_and_user(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/auth/register",
        json={"email": "  Ada@Example.COM ", "name": "  Ada Lovelace ", "password": PASSWORD},
    )
    assert response.status_code == 201
    assert response.headers["Cache-Control"] == "no-store"
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 15 * 60
    assert set(body["user"]) == {"id", "email", "name", "created_at", "updated_at", "time_zone"}
    assert body["user"]["time_zone"] == "UTC"
    assert body["user"]["email"] == "ada@example.com"
    assert body["user"]["name"] == "Ada Lovelace"
    assert body["user"]["created_at"].endswith(("Z", "+00:00"))
    assert (await me(client, body["access_token"])).json() == body["user"]


async def test_access_token_carries_the_documented_claims(client: httpx.AsyncClient) -> None:
    auth = await register(client)
    header = jwt.get_unverified_header(auth["access_token"])
    claims = claims_of(auth["access_token"])
    assert header["alg"] == "HS256"
    assert {"sub", "exp", "iat", "typ", "sid", "jti"} <= set(claims)
    assert claims["sub"] == auth["user"]["id"]
    assert claims["exp"] - claims["iat"] == 15 * 60
    assert claims["typ"] == "access"


async def test_refresh_token_is_opaque_and_long(client: httpx.AsyncClient) -> None:
    token = (await register(client))["refresh_token"]
    assert token.count(".") == 0
    assert len(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))) >= 32


async def test_refresh_token_is_stored_only_as_a_hash(
    client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    token = (await register(client))["refresh_token"]
    async with engine.connect() as connection:
        stored = (await connection.execute(select(RefreshToken.token_hash))).scalars().all()
    assert token not in stored
    assert all(len(value) == 64 for value in stored)


@pytest.mark.parametrize("email", ["dev@example.test", "o'brien+todo@sub.example.co.uk"])
async def test_ordinary_and_test_domain_addresses_are_accepted(
    client: httpx.AsyncClient, email: str
) -> None:
    assert (await register(client, email.upper()))["user"]["email"] == email


async def test_email_is_unique_case_insensitively(client: httpx.AsyncClient) -> None:
    await register(client, "Sam@Example.com")
    response = await client.post(
        "/api/auth/register",
        json={"email": "sam@EXAMPLE.com", "name": "Other", "password": PASSWORD},
    )
    assert response.status_code == 409
    assert response.json()["code"] == "email_taken"


async def test_simultaneous_registrations_of_one_email_give_201_and_409(
    client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    body = {"email": "race@example.com", "name": "Racer", "password": PASSWORD}
    responses = await asyncio.gather(
        *(client.post("/api/auth/register", json=body) for _ in range(4))
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201, 409, 409, 409]
    async with engine.connect() as connection:
        count = await connection.scalar(select(func.count()).select_from(User))
    assert count == 1


@pytest.mark.parametrize(
    "body",
    [
        {"email": "not-an-email", "name": "A", "password": PASSWORD},
        {"email": ("a" * 64 + ".") * 3 + "@example.com", "name": "A", "password": PASSWORD},
        {"email": "a@example.com", "name": "   ", "password": PASSWORD},
        {"email": "a@example.com", "name": "n" * 101, "password": PASSWORD},
        {"email": "a@example.com", "name": "A", "password": "short"},
        {"email": "a@example.com", "name": "A", "password": "p" * 1025},
        {"email": "a@example.com", "name": "A\u0000B", "password": PASSWORD},
        {"email": "a@example.com", "name": "A", "password": 12345678},
        {"email": "a@example.com", "name": "A"},
    ],
)
async def test_register_rejects_invalid_input_with_422(
    client: httpx.AsyncClient, body: dict[str, Any]
) -> None:
    response = await client.post("/api/auth/register", json=body)
    assert response.status_code == 422
    assert isinstance(response.json()["detail"], list)
    assert PASSWORD not in response.text  # the input is not echoed back


async def test_malformed_json_is_422_not_500(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/auth/register", content=b"{nope", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422


# --- passwords ---------------------------------------------------------------------------------


@pytest.mark.parametrize("alphabet", ["😀", "漢", "é", "a"])
async def test_long_passwords_count_in_full(client: httpx.AsyncClient, alphabet: str) -> None:
    password = alphabet * 70 + "!tail"
    auth = await register(client, password=password)
    email = auth["user"]["email"]
    assert (await login(client, email, password)).status_code == 200
    # Everything past bcrypt's 72 bytes still matters: prefix and near-misses fail.
    prefix = password.encode()[:72].decode(errors="ignore")
    assert (await login(client, email, prefix)).status_code == 401
    assert (await login(client, email, password[:-1] + "?")).status_code == 401


async def test_password_of_1024_characters_works(client: httpx.AsyncClient) -> None:
    password = "🔑" * 1024
    auth = await register(client, password=password)
    assert (await login(client, auth["user"]["email"], password)).status_code == 200
    too_long = await login(client, auth["user"]["email"], password + "x")
    assert too_long.status_code == 422


async def test_password_hash_is_bcrypt_at_the_configured_cost(
    client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    await register(client)
    async with engine.connect() as connection:
        stored = await connection.scalar(select(User.password_hash))
    assert stored is not None
    assert stored.startswith("$2b$04$")  # the suite runs at cost 4


def test_default_bcrypt_cost_is_at_least_owasp_floor() -> None:
    assert Settings.model_fields["bcrypt_rounds"].default >= 10


# --- login -------------------------------------------------------------------------------------


async def test_login_returns_a_new_session(client: httpx.AsyncClient) -> None:
    auth = await register(client, "login@example.com")
    response = await login(client, "LOGIN@example.com")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    body = response.json()
    assert body["user"] == auth["user"]
    assert claims_of(body["access_token"])["sid"] != claims_of(auth["access_token"])["sid"]


def at(timed: tuple[httpx.Response, float]) -> float:
    return timed[1]


async def test_unknown_email_and_wrong_password_look_the_same(
    database_url: str, engine: AsyncEngine
) -> None:
    app = create_app(make_settings(database_url), engine=engine)
    hasher = app.state.accounts.hasher
    checked: list[str] = []
    check = hasher._verify

    def counted(password: str, password_hash: str) -> bool:
        checked.append(password_hash)
        return check(password, password_hash)

    hasher._verify = counted
    async with make_client(app) as client:
        await register(client, "known@example.com")
        wrong = await login(client, "known@example.com", "wrong password!")
        wrong_checks, checked[:] = list(checked), []
        unknown = await login(client, "nobody@example.com", "wrong password!")
        unknown_checks = list(checked)
    assert wrong.status_code == unknown.status_code == 401
    assert (
        wrong.json()
        == unknown.json()
        == {
            "detail": "The email or password is incorrect.",
            "code": "invalid_credentials",
        }
    )
    assert wrong.headers["WWW-Authenticate"] == unknown.headers["WWW-Authenticate"]
    # Both spend exactly one bcrypt check at the same cost: neither answers early (counted, not
    # timed, so that a busy machine cannot make it flake).
    assert len(wrong_checks) == len(unknown_checks) == 1
    assert wrong_checks[0] != unknown_checks[0] == hasher.dummy_hash
    assert wrong_checks[0][:7] == unknown_checks[0][:7]  # "$2b$04$": the same cost


async def test_hashing_does_not_block_token_only_requests(
    database_url: str, engine: AsyncEngine
) -> None:
    # Cost 11: a tenth of a second or more a hash, six take several times that on the pool.
    settings = make_settings(database_url, bcrypt_rounds=11)
    async with make_client(create_app(settings, engine=engine)) as client:
        auth = await register(client)
        await me(client, auth["access_token"])  # warm up

        logins = [
            asyncio.create_task(login(client, auth["user"]["email"], "wrong password!"))
            for _ in range(6)
        ]
        await asyncio.sleep(0.01)
        assert (await me(client, auth["access_token"])).status_code == 200
        # /me did not queue behind the hashing: it is answered while they still run.
        still_hashing = sum(not task.done() for task in logins)
        await asyncio.gather(*logins)
    assert still_hashing >= 3


# --- access tokens and attacks -----------------------------------------------------------------


async def test_me_requires_a_token(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/auth/me")
    assert_401(response, "not_authenticated")
    assert response.headers["WWW-Authenticate"] == "Bearer"


async def test_malformed_authorization_headers_are_401(client: httpx.AsyncClient) -> None:
    for value in ("Bearer", "Bearer not.a.jwt", "Basic dXNlcjpwYXNz", "Bearer a.b", "Bearer ....."):
        response = await client.get("/api/auth/me", headers={"Authorization": value})
        assert response.status_code == 401, value
        assert "WWW-Authenticate" in response.headers


async def test_alg_none_is_rejected(client: httpx.AsyncClient) -> None:
    claims = claims_of((await register(client))["access_token"])
    token = f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(claims)}."
    assert_401(await me(client, token), "token_invalid")


async def test_edited_payload_is_rejected(client: httpx.AsyncClient) -> None:
    auth = await register(client)
    victim = await register(client)
    header, _, signature = auth["access_token"].split(".")
    claims = claims_of(auth["access_token"]) | {"sub": victim["user"]["id"]}
    assert_401(await me(client, f"{header}.{b64(claims)}.{signature}"), "token_invalid")


async def test_token_signed_with_another_key_is_rejected(client: httpx.AsyncClient) -> None:
    claims = claims_of((await register(client))["access_token"])
    assert_401(await me(client, forge(claims, key="another-secret-" + "y" * 40)), "token_invalid")


async def test_hs512_with_the_right_secret_is_rejected(client: httpx.AsyncClient) -> None:
    claims = claims_of((await register(client))["access_token"])
    with pytest.warns(jwt.warnings.InsecureKeyLengthWarning):
        token = forge(claims, algorithm="HS512")
    assert_401(await me(client, token), "token_invalid")


async def test_expired_token_is_rejected(client: httpx.AsyncClient) -> None:
    claims = claims_of((await register(client))["access_token"])
    now = int(time.time())
    expired = forge(claims | {"iat": now - 1000, "exp": now - 120})
    assert_401(await me(client, expired), "token_expired")


async def test_small_clock_skew_is_tolerated(client: httpx.AsyncClient) -> None:
    claims = claims_of((await register(client))["access_token"])
    now = int(time.time())
    assert (await me(client, forge(claims | {"exp": now - 5}))).status_code == 200


@pytest.mark.parametrize("missing", ["exp", "sub", "sid", "typ", "iat", "jti"])
async def test_tokens_missing_a_required_claim_are_rejected(
    client: httpx.AsyncClient, missing: str
) -> None:
    claims = claims_of((await register(client))["access_token"])
    del claims[missing]
    assert_401(await me(client, forge(claims)), "token_invalid")


async def test_token_of_another_type_is_rejected(client: httpx.AsyncClient) -> None:
    claims = claims_of((await register(client))["access_token"]) | {"typ": "refresh"}
    assert_401(await me(client, forge(claims)), "token_invalid")


async def test_token_with_unknown_session_is_rejected(client: httpx.AsyncClient) -> None:
    claims = claims_of((await register(client))["access_token"]) | {"sid": str(uuid.uuid4())}
    assert_401(await me(client, forge(claims)), "token_invalid")


async def test_token_with_garbage_ids_is_rejected(client: httpx.AsyncClient) -> None:
    claims = claims_of((await register(client))["access_token"])
    assert_401(await me(client, forge(claims | {"sub": "1 OR 1=1"})), "token_invalid")
    assert_401(await me(client, forge(claims | {"sid": 12})), "token_invalid")


async def test_token_of_a_session_of_another_user_is_rejected(client: httpx.AsyncClient) -> None:
    mine = claims_of((await register(client))["access_token"])
    theirs = claims_of((await register(client))["access_token"])
    assert_401(await me(client, forge(mine | {"sid": theirs["sid"]})), "token_invalid")


async def test_refresh_token_is_not_a_bearer_token(client: httpx.AsyncClient) -> None:
    auth = await register(client)
    assert_401(await me(client, auth["refresh_token"]), "token_invalid")


async def test_access_token_is_not_a_refresh_token(client: httpx.AsyncClient) -> None:
    auth = await register(client)
    assert_401(await refresh(client, auth["access_token"]), "token_invalid")


# --- refresh -----------------------------------------------------------------------------------


async def test_refresh_rotates_the_pair(client: httpx.AsyncClient) -> None:
    auth = await register(client)
    response = await refresh(client, auth["refresh_token"])
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    body = response.json()
    assert body["refresh_token"] != auth["refresh_token"]
    assert body["access_token"] != auth["access_token"]
    assert body["user"] == auth["user"]
    assert (await me(client, body["access_token"])).status_code == 200
    # The chain goes on: the new refresh token works once too.
    assert (await refresh(client, body["refresh_token"])).status_code == 200


async def test_reused_refresh_token_revokes_the_whole_session(client: httpx.AsyncClient) -> None:
    auth = await register(client)
    rotated = (await refresh(client, auth["refresh_token"])).json()
    # The old token comes back (a thief, or the owner after a thief): the session is burnt.
    assert_401(await refresh(client, auth["refresh_token"]), "session_revoked")
    assert_401(await refresh(client, rotated["refresh_token"]), "session_revoked")
    assert_401(await me(client, rotated["access_token"]), "session_revoked")
    assert_401(await me(client, auth["access_token"]), "session_revoked")


async def test_concurrent_refreshes_of_one_token_let_at_most_one_through(
    client: httpx.AsyncClient,
) -> None:
    auth = await register(client)
    responses = await asyncio.gather(*(refresh(client, auth["refresh_token"]) for _ in range(5)))
    statuses = [r.status_code for r in responses]
    assert statuses.count(200) <= 1
    assert all(s in {200, 401} for s in statuses)


async def test_refresh_does_not_extend_the_seven_day_lifetime(
    client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    auth = await register(client)
    async with engine.connect() as connection:
        expires_at = await connection.scalar(select(AuthSession.expires_at))
    assert expires_at is not None
    expected = datetime.now(UTC) + timedelta(days=7)
    assert abs((expires_at - expected).total_seconds()) < 60
    await refresh(client, auth["refresh_token"])
    async with engine.connect() as connection:
        assert await connection.scalar(select(AuthSession.expires_at)) == expires_at


async def test_refresh_after_the_session_lifetime_is_401(
    client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    auth = await register(client)
    async with engine.begin() as connection:
        await connection.execute(
            update(AuthSession).values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    assert_401(await refresh(client, auth["refresh_token"]), "token_expired")


async def test_unknown_refresh_token_is_401(client: httpx.AsyncClient) -> None:
    assert_401(await refresh(client, "made-up-token"), "token_invalid")


# --- logout ------------------------------------------------------------------------------------


async def test_logout_ends_the_session_and_only_that_one(client: httpx.AsyncClient) -> None:
    first = await register(client)
    second = (await login(client, first["user"]["email"])).json()
    response = await client.post("/api/auth/logout", json={"refresh_token": first["refresh_token"]})
    assert response.status_code == 204
    assert_401(await me(client, first["access_token"]), "session_revoked")
    assert_401(await refresh(client, first["refresh_token"]), "session_revoked")
    # The user's other session is untouched.
    assert (await me(client, second["access_token"])).status_code == 200
    assert (await refresh(client, second["refresh_token"])).status_code == 200


async def test_logout_twice_is_401(client: httpx.AsyncClient) -> None:
    auth = await register(client)
    await client.post("/api/auth/logout", json={"refresh_token": auth["refresh_token"]})
    again = await client.post("/api/auth/logout", json={"refresh_token": auth["refresh_token"]})
    assert again.status_code == 401


async def test_logout_with_unknown_token_is_401(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/auth/logout", json={"refresh_token": "nope"})
    assert_401(response, "token_invalid")


# --- rate limits -------------------------------------------------------------------------------


async def test_failed_logins_per_email_are_limited(database_url: str, engine: AsyncEngine) -> None:
    settings = make_settings(database_url, login_rate_limit="3/minute")
    app = create_app(settings, engine=engine)
    async with make_client(app) as client:
        await register(client, "target@example.com")
        for attempt in range(3):
            # Different clients: the per-email budget is what runs out.
            async with make_client(app, client_ip=f"10.0.0.{attempt}") as other:
                assert (await login(other, "target@example.com", "wrong!!!!")).status_code == 401
        async with make_client(app, client_ip="10.0.1.1") as fresh:
            limited = await login(fresh, "target@example.com")
    assert limited.status_code == 429
    assert limited.json()["code"] == "rate_limited"
    assert 0 < int(limited.headers["Retry-After"]) <= 60


async def test_failed_logins_per_client_are_limited(database_url: str, engine: AsyncEngine) -> None:
    settings = make_settings(database_url, login_rate_limit="3/minute")
    async with make_client(create_app(settings, engine=engine), client_ip="10.9.9.9") as client:
        for n in range(3):
            assert (await login(client, f"nobody{n}@example.com", "wrong!!!!")).status_code == 401
        limited = await login(client, "someone-else@example.com", "wrong!!!!")
    assert limited.status_code == 429
    assert "Retry-After" in limited.headers


async def test_successful_logins_do_not_spend_the_budget(
    database_url: str, engine: AsyncEngine
) -> None:
    settings = make_settings(database_url, login_rate_limit="2/minute")
    async with make_client(create_app(settings, engine=engine)) as client:
        auth = await register(client)
        for _ in range(5):
            assert (await login(client, auth["user"]["email"])).status_code == 200


async def test_registrations_per_client_are_limited(database_url: str, engine: AsyncEngine) -> None:
    settings = make_settings(database_url, register_rate_limit="2/hour")
    async with make_client(create_app(settings, engine=engine), client_ip="10.1.1.1") as client:
        await register(client)
        await register(client)
        limited = await client.post(
            "/api/auth/register",
            json={"email": "third@example.com", "name": "Third", "password": PASSWORD},
        )
    assert limited.status_code == 429
    assert limited.json()["code"] == "rate_limited"
    assert int(limited.headers["Retry-After"]) > 0


REDIS_URL = "redis://127.0.0.1:6379/0"


async def test_two_instances_share_one_budget_through_redis(
    database_url: str, engine: AsyncEngine
) -> None:
    # A unique client address keeps this run's budget apart from earlier runs in the same Redis.
    client_ip = f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.7"
    settings = make_settings(
        database_url, rate_limit_storage_url=REDIS_URL, register_rate_limit="3/hour"
    )
    first = create_app(settings, engine=engine)
    second = create_app(settings, engine=engine)
    async with (
        make_client(first, client_ip=client_ip) as a,
        make_client(second, client_ip=client_ip) as b,
    ):
        await register(a)
        await register(b)
        await register(a)
        limited = await b.post(
            "/api/auth/register",
            json={"email": "fourth@example.com", "name": "Fourth", "password": PASSWORD},
        )
    assert limited.status_code == 429
    assert "Retry-After" in limited.headers


# --- docs --------------------------------------------------------------------------------------


async def test_docs_authorize_button_uses_bearer_tokens(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    assert schema["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    for path, method in [("/api/auth/me", "get"), ("/api/tasks", "get"), ("/api/tasks", "post")]:
        assert {"HTTPBearer": []} in schema["paths"][path][method]["security"]
    # What the button does: the token from /register, sent as the Authorization header.
    auth = await register(client)
    assert (await client.get("/api/auth/me", headers=bearer(auth))).status_code == 200
