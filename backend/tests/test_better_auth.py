"""The Better Auth bridge, against the real `better-auth` package (tests/better_auth/issuer.mjs)
and, for claims Better Auth would never issue, against a JWKS we serve and sign for ourselves."""

import asyncio
import base64
import hashlib
import hmac
import json
import os
import socket
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.rsa import generate_private_key
from fastapi import FastAPI
from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from app.accounts import queries as account_queries
from app.accounts.better_auth import (
    FETCH_TIMEOUT_SECONDS,
    LEEWAY_SECONDS,
    BetterAuthVerifier,
    usable_key,
)
from app.accounts.models import User
from app.main import create_app
from tests.conftest import PASSWORD, bearer, make_client, make_settings, register
from tests.support.better_auth import (
    ALGORITHMS,
    BetterAuthIssuer,
    BetterAuthUser,
    ensure_installed,
)
from tests.support.key_server import DROP, KeyServer
from tests.support.timing import within

pytestmark = pytest.mark.anyio

MakeApp = Callable[..., Awaitable[FastAPI]]


# --- the real issuer --------------------------------------------------------------------------


@pytest.fixture(scope="session")
def node() -> None:
    if ensure_installed():
        return
    reason = "the Better Auth tests need Node.js and npm on PATH to run the better-auth package"
    if os.environ.get("REQUIRE_BETTER_AUTH_TESTS") == "1":
        pytest.fail(f"{reason} (REQUIRE_BETTER_AUTH_TESTS=1)")
    pytest.skip(f"{reason}; set REQUIRE_BETTER_AUTH_TESTS=1 to fail instead of skipping")


@pytest.fixture(scope="session")
def issuers(node: None) -> Iterator[Callable[[str], BetterAuthIssuer]]:
    """One running issuer per algorithm, started on first use and shared by the session."""
    running: dict[str, BetterAuthIssuer] = {}

    def get(alg: str) -> BetterAuthIssuer:
        if alg not in running:
            running[alg] = BetterAuthIssuer(alg).start()  # type: ignore[arg-type]
        return running[alg]

    yield get
    for issuer in running.values():
        issuer.stop()


@pytest.fixture
def issuer(issuers: Callable[[str], BetterAuthIssuer]) -> BetterAuthIssuer:
    return issuers("EdDSA")


@pytest.fixture
def own_issuer(node: None) -> Iterator[BetterAuthIssuer]:
    """An issuer for one test, for tests that rotate its keys or count its JWKS requests."""
    with BetterAuthIssuer("EdDSA") as issuer:
        yield issuer


def sign_up(issuer: BetterAuthIssuer, *, name: str = "Ada Lovelace") -> BetterAuthUser:
    return issuer.sign_up(f"ba-{uuid.uuid4().hex[:12]}@example.com", name)


# --- the app ----------------------------------------------------------------------------------


@pytest.fixture
async def make_app(database_url: str, engine: AsyncEngine) -> AsyncIterator[MakeApp]:
    """Apps on the test database with Better Auth configured; verifier knobs for timing tests."""
    made: list[FastAPI] = []

    async def make(
        better_auth_url: str, *, min_refetch: float | None = None, **overrides: Any
    ) -> FastAPI:
        settings = make_settings(database_url, better_auth_url=better_auth_url, **overrides)
        app = create_app(settings, engine=engine)
        if min_refetch is not None:
            await app.state.better_auth.aclose()
            app.state.better_auth = BetterAuthVerifier(settings, min_refetch=min_refetch)
        made.append(app)
        return app

    yield make
    for app in made:
        await app.state.better_auth.aclose()


@pytest.fixture
async def ba_app(make_app: MakeApp, issuer: BetterAuthIssuer) -> FastAPI:
    return await make_app(issuer.url)


@pytest.fixture
async def ba_client(ba_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with make_client(ba_app) as client:
        yield client


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def me(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.get("/api/auth/me", headers=auth(token))


def assert_401(response: httpx.Response, code: str = "token_invalid") -> None:
    assert response.status_code == 401, response.text
    assert response.json()["code"] == code
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


async def external_users(engine: AsyncEngine, subject: str) -> list[User]:
    async with async_sessionmaker(engine)() as session:
        statement = select(User).where(User.external_subject == subject)
        return list((await session.scalars(statement)).all())


# --- tokens we make ourselves -----------------------------------------------------------------


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def b64json(data: dict[str, Any]) -> str:
    return b64url(json.dumps(data).encode())


def parts(token: str) -> tuple[dict[str, Any], dict[str, Any], str]:
    _, payload, signature = token.split(".")
    return jwt.get_unverified_header(token), json.loads(unb64url(payload)), signature


def hmac_token(header: dict[str, Any], claims: dict[str, Any], secret: bytes) -> str:
    """HMAC by hand: PyJWT refuses to use a public key as an HMAC secret, an attacker would not."""
    digest = {"HS256": hashlib.sha256, "HS512": hashlib.sha512}[header["alg"]]
    signing_input = f"{b64json(header)}.{b64json(claims)}"
    return f"{signing_input}.{b64url(hmac.new(secret, signing_input.encode(), digest).digest())}"


def public_key_secrets(jwk: dict[str, Any]) -> list[bytes]:
    """Every form of the public key a confused verifier might take as an HMAC secret."""
    key = jwt.PyJWK(jwk).key
    return [
        json.dumps(jwk).encode(),
        json.dumps(jwk, separators=(",", ":"), sort_keys=True).encode(),
        key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
        key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
        unb64url(jwk.get("x") or jwk["n"]),
    ]


@pytest.fixture
def key_server() -> Iterator[KeyServer]:
    server = KeyServer()
    yield server
    server.close()


@pytest.fixture
async def ks_client(make_app: MakeApp, key_server: KeyServer) -> AsyncIterator[httpx.AsyncClient]:
    async with make_client(await make_app(key_server.url)) as client:
        yield client


# --- real Better Auth tokens are bearer tokens ------------------------------------------------


@pytest.mark.parametrize("alg", ALGORITHMS)
async def test_better_auth_token_works_on_every_route(
    alg: str, issuers: Callable[[str], BetterAuthIssuer], make_app: MakeApp
) -> None:
    issuer = issuers(alg)
    user = sign_up(issuer)
    token = issuer.token(user)
    assert jwt.get_unverified_header(token)["alg"] == alg
    async with make_client(await make_app(issuer.url)) as client:
        response = await me(client, token)
        assert response.status_code == 200, response.text
        assert response.json()["email"] == user.email
        assert response.json()["name"] == "Ada Lovelace"

        created = await client.post("/api/tasks", json={"title": "Ship it"}, headers=auth(token))
        assert created.status_code == 201, created.text
        task_url = f"/api/tasks/{created.json()['id']}"
        assert created.json()["user_id"] == response.json()["id"]
        listed = await client.get("/api/tasks", headers=auth(token))
        assert [t["title"] for t in listed.json()] == ["Ship it"]
        assert (await client.get(task_url, headers=auth(token))).status_code == 200
        put = await client.put(task_url, json={"title": "Shipped"}, headers=auth(token))
        assert put.json()["title"] == "Shipped"
        patch = await client.patch(task_url, json={"completed": True}, headers=auth(token))
        assert patch.json()["completed"] is True
        assert (await client.delete(task_url, headers=auth(token))).status_code == 204


async def test_token_from_the_get_session_header_works(
    issuer: BetterAuthIssuer, ba_client: httpx.AsyncClient
) -> None:
    user = sign_up(issuer)
    first = await me(ba_client, issuer.token_from_header(user))
    second = await me(ba_client, issuer.token(user))
    assert first.status_code == second.status_code == 200
    assert first.json()["id"] == second.json()["id"]


async def test_better_auth_tokens_are_refused_when_not_configured(
    issuer: BetterAuthIssuer, client: httpx.AsyncClient
) -> None:
    assert_401(await me(client, issuer.token(sign_up(issuer))))


async def test_our_own_tokens_keep_working_alongside(
    issuer: BetterAuthIssuer, ba_client: httpx.AsyncClient
) -> None:
    local = await register(ba_client)
    response = await ba_client.get("/api/auth/me", headers=bearer(local))
    assert response.status_code == 200
    assert response.json()["email"] == local["user"]["email"]
    assert (await me(ba_client, issuer.token(sign_up(issuer)))).status_code == 200


# --- attacks on real tokens -------------------------------------------------------------------


@pytest.fixture(params=["EdDSA", "RS256"])
async def victim(
    request: pytest.FixtureRequest,
    issuers: Callable[[str], BetterAuthIssuer],
    make_app: MakeApp,
) -> AsyncIterator[tuple[BetterAuthIssuer, str, httpx.AsyncClient]]:
    """An issuer, a real token of one of its users, and a client of an app that trusts it."""
    issuer = issuers(request.param)
    token = issuer.token(sign_up(issuer))
    async with make_client(await make_app(issuer.url)) as client:
        assert (await me(client, token)).status_code == 200  # the genuine token works
        yield issuer, token, client


Victim = tuple[BetterAuthIssuer, str, httpx.AsyncClient]


async def test_alg_none_is_rejected(victim: Victim) -> None:
    _, token, client = victim
    header, claims, _ = parts(token)
    for alg in ("none", "None", "NONE"):
        forged = f"{b64json(header | {'alg': alg})}.{b64json(claims)}."
        assert_401(await me(client, forged))


async def test_hmac_signed_with_the_public_key_is_rejected(victim: Victim) -> None:
    issuer, token, client = victim
    header, claims, _ = parts(token)
    jwk = next(k for k in issuer.jwks()["keys"] if k["kid"] == header["kid"])
    for secret in public_key_secrets(jwk):
        for alg in ("HS256", "HS512"):
            assert_401(await me(client, hmac_token(header | {"alg": alg}, claims, secret)))


async def test_edited_claims_with_the_original_signature_are_rejected(victim: Victim) -> None:
    issuer, token, client = victim
    header, claims, signature = parts(token)
    someone_else = sign_up(issuer)
    for changes in ({"sub": someone_else.id}, {"email": "boss@example.com"}, {"exp": 4102444800}):
        edited = f"{b64json(header)}.{b64json(claims | changes)}.{signature}"
        assert_401(await me(client, edited))


async def test_token_relabelled_with_another_allowed_algorithm_is_rejected(victim: Victim) -> None:
    _, token, client = victim
    header, claims, signature = parts(token)
    for alg in ("EdDSA", "RS256", "PS256", "ES256", "ES512"):
        if alg != header["alg"]:
            relabelled = f"{b64json(header | {'alg': alg})}.{b64json(claims)}.{signature}"
            assert_401(await me(client, relabelled))


async def test_token_signed_by_another_key_is_rejected(victim: Victim) -> None:
    _, token, client = victim
    header, claims, _ = parts(token)
    attacker = Ed25519PrivateKey.generate()
    rsa_attacker = generate_private_key(public_exponent=65537, key_size=2048)
    # Under the real kid, and under a kid nobody published.
    for kid in (header["kid"], "attacker-kid"):
        assert_401(await me(client, jwt.encode(claims, attacker, "EdDSA", headers={"kid": kid})))
        assert_401(
            await me(client, jwt.encode(claims, rsa_attacker, "RS256", headers={"kid": kid}))
        )


async def test_key_carrying_headers_are_rejected(victim: Victim) -> None:
    """The token names the attacker's key itself (embedded, or at a URL): never looked at."""
    _, token, client = victim
    header, claims, _ = parts(token)
    attacker = Ed25519PrivateKey.generate()
    attacker_jwk = json.loads(jwt.algorithms.OKPAlgorithm.to_jwk(attacker.public_key()))
    for extra in (
        {"jwk": attacker_jwk},
        {"jku": "https://attacker.example/jwks.json"},
        {"x5u": "https://attacker.example/cert.pem"},
        {"x5c": ["MIIB"]},
    ):
        forged = jwt.encode(claims, attacker, "EdDSA", headers={"kid": header["kid"], **extra})
        assert_401(await me(client, forged))


async def test_garbage_tokens_are_401_not_500(ba_client: httpx.AsyncClient) -> None:
    for garbage in (
        "abc",
        "a.b.c",
        f"{b64json({'alg': 'EdDSA'})}.{b64json({})}.sig",
        f"{b64json({'alg': ['EdDSA'], 'kid': 'x'})}.{b64json({})}.sig",
        f"{b64json({'alg': 'EdDSA', 'kid': {'a': 1}})}.{b64json({})}.sig",
        f"{b64json({'alg': 'EdDSA', 'kid': ''})}.{b64json({})}.sig",
    ):
        assert_401(await me(ba_client, garbage))


@pytest.mark.parametrize("setting", ["better_auth_issuer", "better_auth_audience"])
async def test_wrong_issuer_or_audience_is_rejected(
    setting: str, issuer: BetterAuthIssuer, make_app: MakeApp
) -> None:
    token = issuer.token(sign_up(issuer))
    app = await make_app(issuer.url, **{setting: "https://other.example"})
    async with make_client(app) as client:
        assert_401(await me(client, token))


async def test_explicit_issuer_audience_and_jwks_url_settings_are_used(
    issuer: BetterAuthIssuer, make_app: MakeApp
) -> None:
    # BETTER_AUTH_URL only supplies defaults: here every value is set explicitly.
    app = await make_app(
        "https://frontend.example/",
        better_auth_jwks_url=issuer.jwks_url,
        better_auth_issuer=issuer.url,
        better_auth_audience=issuer.url,
    )
    async with make_client(app) as client:
        assert (await me(client, issuer.token(sign_up(issuer)))).status_code == 200


def shift_jwt_clock(monkeypatch: pytest.MonkeyPatch, seconds: float) -> None:
    """Move the clock PyJWT checks `exp` against (it reads `datetime.now` in jwt.api_jwt)."""

    class Shifted(datetime):
        @classmethod
        def now(cls, tz: Any = None) -> "Shifted":
            moved = datetime.now(tz) + timedelta(seconds=seconds)
            return cls.fromtimestamp(moved.timestamp(), tz)

    monkeypatch.setattr(jwt.api_jwt, "datetime", Shifted)


async def test_real_token_expires_after_fifteen_minutes(
    issuer: BetterAuthIssuer, ba_client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = issuer.token(sign_up(issuer))
    assert (await me(ba_client, token)).status_code == 200  # keys cached, user created
    shift_jwt_clock(monkeypatch, 15 * 60 + LEEWAY_SECONDS - 5)
    assert (await me(ba_client, token)).status_code == 200  # within the leeway
    shift_jwt_clock(monkeypatch, 15 * 60 + LEEWAY_SECONDS + 5)
    assert_401(await me(ba_client, token), "token_expired")


# --- claims and headers Better Auth never sends (our own trusted key) ---------------------------


async def test_own_key_server_token_is_accepted(
    key_server: KeyServer, ks_client: httpx.AsyncClient
) -> None:
    response = await me(ks_client, key_server.sign())
    assert response.status_code == 200, response.text
    assert response.json()["name"] == "Ann"


@pytest.mark.parametrize("header", ["jku", "jwk", "x5u", "x5c", "crit"])
async def test_key_carrying_headers_are_rejected_even_when_correctly_signed(
    header: str, key_server: KeyServer, ks_client: httpx.AsyncClient
) -> None:
    public = key_server.jwks["keys"][0]
    value = {"jku": key_server.url, "jwk": public, "x5u": key_server.url, "x5c": ["MIIB"]}
    token = key_server.sign(headers={header: value.get(header, ["exp"])})
    assert_401(await me(ks_client, token))


@pytest.mark.parametrize(
    "changes",
    [
        {"exp": DROP},
        {"sub": DROP},
        {"iss": DROP},
        {"aud": DROP},
        {"sub": ""},
        {"sub": 12345},
        {"sub": "x" * 256},
        {"sub": "a\x00b"},
        {"iss": "https://evil.example"},
        {"aud": "https://evil.example"},
        {"nbf": int(time.time()) + 3600},
        {"iat": int(time.time()) + 3600},
        {"exp": "tomorrow"},
    ],
    # Stable ids, the same in every pytest-xdist worker: not the hour-ahead timestamps.
    ids=lambda changes: ",".join(
        f"{k}=" + ("'in an hour'" if k in {"nbf", "iat"} else f"{str(v)[:12]!r}")
        for k, v in changes.items()
    ),
)
async def test_tokens_with_missing_or_bad_claims_are_rejected(
    changes: dict[str, Any], key_server: KeyServer, ks_client: httpx.AsyncClient
) -> None:
    assert_401(await me(ks_client, key_server.sign(**changes)))


async def test_expiry_leeway_is_small(key_server: KeyServer, ks_client: httpx.AsyncClient) -> None:
    """API.md: a token past its `exp` stops working within 5 s (streams too: test_revocation)."""
    now = int(time.time())
    assert (await me(ks_client, key_server.sign(exp=now + 60))).status_code == 200
    assert_401(await me(ks_client, key_server.sign(exp=now - 6)), "token_expired")
    assert LEEWAY_SECONDS <= 5


@pytest.mark.parametrize(
    ("changes", "email", "name"),
    [
        ({"name": DROP}, "ann@example.com", "ann"),
        ({"name": "   "}, "ann@example.com", "ann"),
        ({"name": 42}, "ann@example.com", "ann"),
        ({"name": "N" * 300}, "ann@example.com", "N" * 100),
        ({"name": "bad \ud800 half"}, "ann@example.com", "ann"),
        ({"name": "nul\x00"}, "ann@example.com", "ann"),
        ({"email": "Ann@Example.COM"}, "ann@example.com", "Ann"),
        ({"email": "a" * 250 + "@example.com"}, "", "Ann"),
        ({"email": "not-an-address"}, "", "Ann"),
        ({"email": ["ann@example.com"]}, "", "Ann"),
        ({"email": DROP, "name": DROP}, "", "Better Auth user"),
    ],
)
async def test_unusable_email_or_name_claims_fall_back_instead_of_failing(
    changes: dict[str, Any],
    email: str,
    name: str,
    key_server: KeyServer,
    ks_client: httpx.AsyncClient,
) -> None:
    response = await me(ks_client, key_server.sign(**changes))
    assert response.status_code == 200, response.text
    assert (response.json()["email"], response.json()["name"]) == (email, name)


async def test_unusable_claims_later_keep_the_stored_values(
    key_server: KeyServer, ks_client: httpx.AsyncClient
) -> None:
    first = await me(ks_client, key_server.sign(sub="subject-1"))
    later = await me(ks_client, key_server.sign(sub="subject-1", email=DROP, name="\ud800"))
    assert later.status_code == 200
    assert later.json() == first.json()


# --- keys: caching, rotation, throttling, outages ---------------------------------------------


async def test_keys_are_fetched_once_and_cached(
    own_issuer: BetterAuthIssuer, make_app: MakeApp
) -> None:
    tokens = [own_issuer.token(sign_up(own_issuer)) for _ in range(3)]
    before = own_issuer.jwks_hits()
    async with make_client(await make_app(own_issuer.url)) as client:
        # Concurrent first requests share one fetch.
        responses = await asyncio.gather(*(me(client, t) for t in tokens * 4))
        assert {r.status_code for r in responses} == {200}
        for token in tokens:
            assert (await me(client, token)).status_code == 200
    assert own_issuer.jwks_hits() - before == 1


async def test_rotated_key_is_fetched_and_old_tokens_still_verify(
    own_issuer: BetterAuthIssuer, make_app: MakeApp
) -> None:
    user = sign_up(own_issuer)
    old_token = own_issuer.token(user)
    async with make_client(await make_app(own_issuer.url, min_refetch=0.2)) as client:
        assert (await me(client, old_token)).status_code == 200
        hits = own_issuer.jwks_hits()

        new_kid = own_issuer.rotate()
        new_token = own_issuer.token(user)
        assert jwt.get_unverified_header(new_token)["kid"] == new_kid
        assert new_kid != jwt.get_unverified_header(old_token)["kid"]
        await asyncio.sleep(0.25)  # past the refetch throttle

        assert (await me(client, new_token)).status_code == 200
        assert (await me(client, old_token)).status_code == 200
        assert (await me(client, new_token)).json()["id"] == (await me(client, old_token)).json()[
            "id"
        ]
    assert own_issuer.jwks_hits() - hits == 1


async def test_unknown_kids_cannot_make_us_hammer_the_jwks(
    own_issuer: BetterAuthIssuer, make_app: MakeApp
) -> None:
    token = own_issuer.token(sign_up(own_issuer))
    header, claims, _ = parts(token)
    attacker = Ed25519PrivateKey.generate()

    def junk() -> str:
        return jwt.encode(claims, attacker, "EdDSA", headers={"kid": uuid.uuid4().hex})

    async with make_client(await make_app(own_issuer.url)) as client:
        assert (await me(client, token)).status_code == 200
        hits = own_issuer.jwks_hits()
        for _ in range(20):
            assert_401(await me(client, junk()))
        for response in await asyncio.gather(*(me(client, junk()) for _ in range(20))):
            assert_401(response)
        # Default throttle (5 s): none of these 40 may cause a fetch, or at most one.
        assert own_issuer.jwks_hits() - hits <= 1
        assert (await me(client, token)).status_code == 200


async def test_unknown_kids_refetch_at_most_once_per_window(
    own_issuer: BetterAuthIssuer, make_app: MakeApp
) -> None:
    _, claims, _ = parts(own_issuer.token(sign_up(own_issuer)))
    attacker = Ed25519PrivateKey.generate()
    window = 0.3
    async with make_client(await make_app(own_issuer.url, min_refetch=window)) as client:
        hits = own_issuer.jwks_hits()
        started = time.monotonic()
        for _ in range(3):
            for _ in range(10):
                junk = jwt.encode(claims, attacker, "EdDSA", headers={"kid": uuid.uuid4().hex})
                assert_401(await me(client, junk))
            await asyncio.sleep(window + 0.05)
        elapsed = time.monotonic() - started
    fetches = own_issuer.jwks_hits() - hits
    assert 3 <= fetches <= 1 + elapsed / window


async def test_jwks_down_with_nothing_cached_is_a_quick_503(
    issuer: BetterAuthIssuer, ba_client: httpx.AsyncClient
) -> None:
    token = issuer.token(sign_up(issuer))
    issuer.jwks_down()
    try:
        started = time.monotonic()
        response = await me(ba_client, token)
        # Refused at once: no waiting for the fetch timeout (ms here; 3 s is a wide margin).
        assert time.monotonic() - started < FETCH_TIMEOUT_SECONDS
    finally:
        issuer.jwks_up()
    assert response.status_code == 503
    assert response.json()["code"] == "auth_provider_unavailable"
    assert int(response.headers["Retry-After"]) > 0


async def test_jwks_recovery_is_picked_up(own_issuer: BetterAuthIssuer, make_app: MakeApp) -> None:
    token = own_issuer.token(sign_up(own_issuer))
    async with make_client(await make_app(own_issuer.url, min_refetch=0.2)) as client:
        own_issuer.jwks_down()
        assert (await me(client, token)).status_code == 503
        own_issuer.jwks_up()
        await asyncio.sleep(0.25)
        assert (await me(client, token)).status_code == 200


async def test_jwks_down_with_the_key_cached_keeps_working(
    issuer: BetterAuthIssuer, ba_client: httpx.AsyncClient
) -> None:
    user = sign_up(issuer)
    assert (await me(ba_client, issuer.token(user))).status_code == 200
    issuer.jwks_down()
    try:
        assert (await me(ba_client, issuer.token(user))).status_code == 200
        newcomer = await me(ba_client, issuer.token(sign_up(issuer)))
        assert newcomer.status_code == 200  # a new user of a known key is created as usual
    finally:
        issuer.jwks_up()


async def test_unreachable_jwks_is_503(make_app: MakeApp, key_server: KeyServer) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    app = await make_app(
        key_server.url, better_auth_jwks_url=f"http://127.0.0.1:{closed_port}/api/auth/jwks"
    )
    async with make_client(app) as client:
        response = await me(client, key_server.sign())
    assert response.status_code == 503
    assert response.json()["code"] == "auth_provider_unavailable"


async def test_a_jwks_that_never_answers_is_503_within_the_timeout(
    make_app: MakeApp, key_server: KeyServer
) -> None:
    # Accepts connections (the kernel completes the handshake) but never reads or answers.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        port = silent.getsockname()[1]
        app = await make_app(key_server.url, better_auth_jwks_url=f"http://127.0.0.1:{port}/jwks")
        async with make_client(app) as client:
            started = time.monotonic()
            responses = await asyncio.gather(*(me(client, key_server.sign()) for _ in range(5)))
            elapsed = time.monotonic() - started
    assert [r.status_code for r in responses] == [503] * 5
    # The fetch timeout once: one shared fetch, not five in a row (15 s), and never a hang.
    assert FETCH_TIMEOUT_SECONDS <= elapsed < within(FETCH_TIMEOUT_SECONDS)
    assert within(FETCH_TIMEOUT_SECONDS) < 5 * FETCH_TIMEOUT_SECONDS


async def test_withdrawn_key_stops_working_once_the_cache_is_old(
    make_app: MakeApp, key_server: KeyServer
) -> None:
    app = await make_app(key_server.url, min_refetch=0.1)
    app.state.better_auth.keys.max_age = 0.2
    async with make_client(app) as client:
        assert (await me(client, key_server.sign())).status_code == 200
        key_server.down = True
        await asyncio.sleep(0.25)
        # Old cache, JWKS down: the cached key keeps verifying.
        assert (await me(client, key_server.sign())).status_code == 200
        key_server.down = False
        key_server.jwks = {"keys": []}
        await asyncio.sleep(0.25)
        # Old cache, JWKS answering without the key: the key is gone.
        assert_401(await me(client, key_server.sign()))


JWKS_DELAY = 3.0


async def test_a_slow_refresh_does_not_hold_up_requests_with_a_cached_key(
    make_app: MakeApp, key_server: KeyServer
) -> None:
    app = await make_app(key_server.url, min_refetch=0.1)
    app.state.better_auth.keys.max_age = 0.2
    async with make_client(app) as client:
        assert (await me(client, key_server.sign())).status_code == 200
        await asyncio.sleep(0.25)
        key_server.delay = JWKS_DELAY

        async def timed() -> float:
            started = time.monotonic()
            assert (await me(client, key_server.sign())).status_code == 200
            return time.monotonic() - started

        durations = sorted(await asyncio.gather(*(timed() for _ in range(5))))
    # One request refreshes the old keys and waits for the JWKS; the others use the cache.
    assert durations[-1] >= JWKS_DELAY
    # Milliseconds each; half the JWKS delay leaves room for a busy machine.
    assert durations[-2] < JWKS_DELAY / 2


async def test_unusable_jwks_members_are_skipped(
    key_server: KeyServer, ks_client: httpx.AsyncClient
) -> None:
    hmac_key = {"kty": "oct", "k": b64url(b"s" * 32), "kid": "hmac", "alg": "HS256"}
    key_server.jwks["keys"] = [
        "junk",
        {"kty": "RSA", "kid": "broken"},
        hmac_key,
        key_server.jwks["keys"][0] | {"kid": "encryption", "use": "enc"},
        *key_server.jwks["keys"],
    ]
    assert (await me(ks_client, key_server.sign())).status_code == 200
    # An HMAC key published by mistake never verifies anything.
    claims = key_server.claims()
    for alg in ("HS256", "HS512"):
        assert_401(await me(ks_client, hmac_token({"alg": alg, "kid": "hmac"}, claims, b"s" * 32)))
    assert_401(await me(ks_client, key_server.sign(headers={"kid": "encryption"})))


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")  # signing it here
async def test_token_signed_by_a_published_but_short_rsa_key_is_401(
    key_server: KeyServer, ks_client: httpx.AsyncClient
) -> None:
    weak = generate_private_key(public_exponent=65537, key_size=1024)
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(weak.public_key()))
    key_server.jwks["keys"].append(public | {"kid": "weak", "alg": "RS256"})
    token = jwt.encode(key_server.claims(), weak, "RS256", headers={"kid": "weak"})
    assert_401(await me(ks_client, token))


async def test_an_issuer_too_long_to_store_stops_start_up(database_url: str) -> None:
    # Refused with the settings, so `python -m app` prints one line instead of a traceback.
    with pytest.raises(ValidationError, match="BETTER_AUTH_ISSUER"):
        make_settings(database_url, better_auth_url="https://app.example/" + "x" * 300)


@pytest.mark.parametrize(
    "jwk",
    [
        {"kty": "oct", "k": "c2VjcmV0", "kid": "a"},
        {"kty": "oct", "k": "c2VjcmV0", "kid": "a", "alg": "HS256"},
        {"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"},
        {
            "kty": "OKP",
            "crv": "Ed25519",
            "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
            "kid": "a",
            "key_ops": ["encrypt"],
        },
    ],
    ids=["oct", "oct-hs256", "no-kid", "not-for-verify"],
)
def test_keys_outside_the_allow_list_are_never_loaded(jwk: dict[str, Any]) -> None:
    assert usable_key(jwk) is None


def test_ecdsa_keys_of_other_curves_are_never_loaded() -> None:
    p384 = ec.generate_private_key(ec.SECP384R1()).public_key()
    jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(p384)) | {"kid": "a"}
    assert jwt.PyJWK(jwk).algorithm_name == "ES384"  # a valid key, just not allowed
    assert usable_key(jwk) is None


def test_keys_without_alg_get_it_from_their_type() -> None:
    x = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
    found = usable_key({"kty": "OKP", "crv": "Ed25519", "x": x, "kid": "a"})
    assert found is not None
    assert found[1].algorithm_name == "EdDSA"


# --- local users for Better Auth identities ---------------------------------------------------


async def test_first_token_creates_a_linked_local_user(
    issuer: BetterAuthIssuer, ba_client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    user = sign_up(issuer, name="Grace Hopper")
    assert len(user.id) == 32
    assert await external_users(engine, user.id) == []
    body = (await me(ba_client, issuer.token(user))).json()
    assert body["email"] == user.email
    assert body["name"] == "Grace Hopper"
    uuid.UUID(body["id"])  # our own id, not Better Auth's

    [row] = await external_users(engine, user.id)
    assert str(row.id) == body["id"]
    assert row.external_issuer == issuer.url
    assert row.password_hash is None


async def test_later_tokens_map_to_the_same_user(
    issuer: BetterAuthIssuer, ba_client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    user = sign_up(issuer)
    ids = set()
    for token in (issuer.token(user), issuer.token_from_header(user), issuer.token(user)):
        response = await me(ba_client, token)
        ids.add(response.json()["id"])
    assert len(ids) == 1
    assert len(await external_users(engine, user.id)) == 1


async def test_changed_name_and_email_are_refreshed(
    issuer: BetterAuthIssuer, ba_client: httpx.AsyncClient
) -> None:
    user = sign_up(issuer)
    before = (await me(ba_client, issuer.token(user))).json()

    user = issuer.update_name(user, "Renamed Person")
    renamed = (await me(ba_client, issuer.token(user))).json()
    assert renamed["name"] == "Renamed Person"
    assert renamed["updated_at"] > before["updated_at"]

    user = issuer.update_email(user, f"New-{uuid.uuid4().hex[:8]}@Example.com")
    token = issuer.token(user)
    moved = (await me(ba_client, token)).json()
    assert moved["email"] == user.email
    assert moved["updated_at"] > renamed["updated_at"]
    assert (moved["id"], moved["created_at"]) == (before["id"], before["created_at"])

    # Nothing changed: no write, updated_at stays.
    assert (await me(ba_client, token)).json() == moved


async def test_same_email_as_a_password_account_stays_a_separate_account(
    issuer: BetterAuthIssuer, ba_client: httpx.AsyncClient
) -> None:
    local = await register(ba_client, f"shared-{uuid.uuid4().hex[:8]}@example.com")
    email = local["user"]["email"]
    ba_user = issuer.sign_up(email, "Same Email")
    ba_token = issuer.token(ba_user)

    ba_me = (await me(ba_client, ba_token)).json()
    assert ba_me["email"] == email
    assert ba_me["id"] != local["user"]["id"]

    await ba_client.post("/api/tasks", json={"title": "local"}, headers=bearer(local))
    await ba_client.post("/api/tasks", json={"title": "better auth"}, headers=auth(ba_token))
    local_tasks = (await ba_client.get("/api/tasks", headers=bearer(local))).json()
    ba_tasks = (await ba_client.get("/api/tasks", headers=auth(ba_token))).json()
    assert [t["title"] for t in local_tasks] == ["local"]
    assert [t["title"] for t in ba_tasks] == ["better auth"]

    # The password account still signs in, and its email is still taken for registration.
    login = await ba_client.post("/api/auth/login", json={"email": email, "password": PASSWORD})
    assert login.status_code == 200
    assert login.json()["user"]["id"] == local["user"]["id"]
    again = {"email": email, "name": "x", "password": PASSWORD}
    assert (await ba_client.post("/api/auth/register", json=again)).status_code == 409


async def test_better_auth_email_does_not_block_registering_a_password_account(
    issuer: BetterAuthIssuer, ba_client: httpx.AsyncClient
) -> None:
    ba_user = sign_up(issuer)
    ba_me = (await me(ba_client, issuer.token(ba_user))).json()
    local = await register(ba_client, ba_user.email)
    assert local["user"]["id"] != ba_me["id"]


async def test_tasks_are_isolated_between_better_auth_and_local_users(
    issuer: BetterAuthIssuer, ba_client: httpx.AsyncClient
) -> None:
    ba_headers = auth(issuer.token(sign_up(issuer)))
    local_headers = bearer(await register(ba_client))
    ba_task = (await ba_client.post("/api/tasks", json={"title": "a"}, headers=ba_headers)).json()
    local_task = (
        await ba_client.post("/api/tasks", json={"title": "b"}, headers=local_headers)
    ).json()

    for task, stranger in ((ba_task, local_headers), (local_task, ba_headers)):
        url = f"/api/tasks/{task['id']}"
        assert (await ba_client.get(url, headers=stranger)).status_code == 404
        patched = await ba_client.patch(url, json={"completed": True}, headers=stranger)
        assert patched.status_code == 404
        assert (await ba_client.delete(url, headers=stranger)).status_code == 404
    assert [t["id"] for t in (await ba_client.get("/api/tasks", headers=ba_headers)).json()] == [
        ba_task["id"]
    ]
    other = auth(issuer.token(sign_up(issuer)))  # two Better Auth users are isolated too
    assert (await ba_client.get(f"/api/tasks/{ba_task['id']}", headers=other)).status_code == 404


async def test_concurrent_first_requests_create_one_user(
    issuer: BetterAuthIssuer, ba_client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    user = sign_up(issuer)
    token = issuer.token(user)
    responses = await asyncio.gather(*(me(ba_client, token) for _ in range(10)))
    assert [r.status_code for r in responses] == [200] * 10
    assert len({r.json()["id"] for r in responses}) == 1
    assert len(await external_users(engine, user.id)) == 1


async def test_creating_an_existing_identity_returns_the_existing_user(engine: AsyncEngine) -> None:
    """The loser of a first-request race: its INSERT finds the row and the transaction goes on."""
    identity = {"issuer": "https://frontend.example", "subject": uuid.uuid4().hex}
    async with engine.begin() as first:
        created = await account_queries.create_external_user(
            connection=first, email="a@example.com", name="A", **identity
        )
    async with engine.begin() as second:
        again = await account_queries.create_external_user(
            connection=second, email="b@example.com", name="B", **identity
        )
        # Still usable after the conflict (on PostgreSQL a failed INSERT would abort it).
        count = await second.scalar(select(func.count()).select_from(User))
    assert again.id == created.id
    assert (again.email, again.name) == ("a@example.com", "A")
    assert count == 1
