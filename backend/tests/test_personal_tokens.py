"""Personal access tokens: created once, listed without the secret, revoked at once; a bearer
token on the task routes and /me, never on the routes that manage tokens."""

import asyncio
import hashlib
import uuid
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from app.accounts.models import PersonalAccessToken
from app.accounts.personal_tokens import MAX_TOKENS_PER_USER
from app.core.models import utcnow
from tests.conftest import bearer, register

pytestmark = pytest.mark.anyio


async def create_token(
    client: httpx.AsyncClient, headers: dict[str, str], **body: Any
) -> dict[str, Any]:
    response = await client.post(
        "/api/auth/tokens", json={"name": "script", **body}, headers=headers
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def pat(token: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {token['token']}"}


async def stored_token(engine: AsyncEngine, token_id: str) -> dict[str, Any]:
    async with engine.connect() as connection:
        statement = select(PersonalAccessToken).where(PersonalAccessToken.id == uuid.UUID(token_id))
        row = (await connection.execute(statement)).mappings().one()
    return dict(row)


async def set_token_times(engine: AsyncEngine, token_id: str, **values: datetime) -> None:
    async with engine.begin() as connection:
        await connection.execute(
            update(PersonalAccessToken)
            .where(PersonalAccessToken.id == uuid.UUID(token_id))
            .values(**values)
        )


async def test_a_new_token_is_shown_once_and_stored_only_as_a_hash(
    client: httpx.AsyncClient, auth_headers: dict[str, str], engine: AsyncEngine
) -> None:
    response = await client.post(
        "/api/auth/tokens", json={"name": "  Claude Desktop "}, headers=auth_headers
    )
    assert response.status_code == 201
    assert response.headers["cache-control"] == "no-store"
    created = response.json()
    assert set(created) == {"id", "name", "token", "created_at", "expires_at", "last_used_at"}
    assert created["name"] == "Claude Desktop"
    assert created["token"].startswith("todo_pat_")
    assert created["expires_at"] is None
    assert created["last_used_at"] is None

    listed = (await client.get("/api/auth/tokens", headers=auth_headers)).json()
    assert listed == [{k: v for k, v in created.items() if k != "token"}]
    row = await stored_token(engine, created["id"])
    assert row["token_hash"] == hashlib.sha256(created["token"].encode()).hexdigest()
    assert created["token"] not in str(row)


async def test_tokens_are_listed_newest_first_and_only_the_owners(
    client: httpx.AsyncClient, auth_headers: dict[str, str], other_user_headers: dict[str, str]
) -> None:
    first = await create_token(client, auth_headers, name="first")
    second = await create_token(client, auth_headers, name="second")
    await create_token(client, other_user_headers, name="someone else's")
    listed = (await client.get("/api/auth/tokens", headers=auth_headers)).json()
    assert [token["id"] for token in listed] == [second["id"], first["id"]]
    assert all("token" not in token for token in listed)


async def test_expiry_is_counted_in_days_from_creation(
    client: httpx.AsyncClient, auth_headers: dict[str, str]
) -> None:
    created = await create_token(client, auth_headers, expires_in_days=30)
    created_at = datetime.fromisoformat(created["created_at"])
    assert datetime.fromisoformat(created["expires_at"]) - created_at == timedelta(days=30)
    longest = await create_token(client, auth_headers, expires_in_days=3650)
    assert longest["expires_at"] is not None
    # JSON Schema's integer: 30.0 is the whole number 30, as every JSON library may write it.
    written_as_float = await create_token(client, auth_headers, expires_in_days=30.0)
    written_at = datetime.fromisoformat(written_as_float["created_at"])
    assert datetime.fromisoformat(written_as_float["expires_at"]) - written_at == timedelta(days=30)


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"name": ""},
        {"name": "   "},
        {"name": "x" * 101},
        {"name": "ok", "expires_in_days": 0},
        {"name": "ok", "expires_in_days": 3651},
        {"name": "ok", "expires_in_days": "soon"},
        {"name": "ok", "expires_in_days": 1.5},
        {"name": "ok", "expires_in_days": True},
        {"name": "ok", "expires_in_days": "30"},
    ],
)
async def test_bad_token_requests_get_422_and_create_nothing(
    client: httpx.AsyncClient, auth_headers: dict[str, str], body: dict[str, Any]
) -> None:
    response = await client.post("/api/auth/tokens", json=body, headers=auth_headers)
    assert response.status_code == 422
    assert (await client.get("/api/auth/tokens", headers=auth_headers)).json() == []


async def test_a_personal_token_works_on_every_task_and_tag_route_and_me(
    client: httpx.AsyncClient, user: dict[str, Any], auth_headers: dict[str, str]
) -> None:
    headers = pat(await create_token(client, auth_headers))
    me = await client.get("/api/auth/me", headers=headers)
    assert me.status_code == 200
    assert me.json()["id"] == user["user"]["id"]
    zoned = await client.patch("/api/auth/me", json={"time_zone": "Europe/Paris"}, headers=headers)
    assert zoned.status_code == 200, zoned.text
    assert zoned.json()["time_zone"] == "Europe/Paris"

    body = {"title": "From a script", "due_date": "2030-05-01", "tags": ["Home"]}
    created = await client.post("/api/tasks", json=body, headers=headers)
    assert created.status_code == 201, created.text
    task = created.json()
    url = f"/api/tasks/{task['id']}"
    assert task["user_id"] == user["user"]["id"]
    assert created.headers["location"].endswith(url)
    listed = await client.get("/api/tasks", params={"tag": "home"}, headers=headers)
    assert [found["id"] for found in listed.json()] == [task["id"]]
    assert listed.headers["x-total-count"] == "1"
    head = await client.head("/api/tasks", headers=headers)
    assert (head.status_code, head.headers["x-total-count"]) == (200, "1")
    fetched = await client.get(url, headers=headers)
    assert fetched.json() == task
    unchanged = await client.get(url, headers={**headers, "If-None-Match": fetched.headers["etag"]})
    assert unchanged.status_code == 304
    patched = await client.patch(
        url, json={"completed": True}, headers={**headers, "If-Match": fetched.headers["etag"]}
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["completed"] is True
    stale = await client.patch(
        url, json={"title": "Lost"}, headers={**headers, "If-Match": fetched.headers["etag"]}
    )
    assert stale.status_code == 412
    replaced = await client.put(url, json={"title": "Renamed", "tags": ["home"]}, headers=headers)
    assert replaced.json()["title"] == "Renamed"

    assert (await client.get("/api/tags", headers=headers)).json() == [{"name": "Home", "count": 1}]
    renamed = await client.patch("/api/tags/home", json={"name": "House"}, headers=headers)
    assert renamed.status_code == 200, renamed.text
    assert (await client.get(url, headers=headers)).json()["tags"] == ["House"]
    assert (await client.delete("/api/tags/house", headers=headers)).status_code == 204
    assert (await client.get("/api/tags", headers=headers)).json() == []

    assert (await client.delete(url, headers=headers)).status_code == 204
    # The same task list as the user's own sign-in sees.
    assert (await client.get("/api/tasks", headers=auth_headers)).json() == []


async def test_a_personal_token_sees_only_its_owners_tasks(
    client: httpx.AsyncClient, auth_headers: dict[str, str], other_user_headers: dict[str, str]
) -> None:
    theirs = (
        await client.post("/api/tasks", json={"title": "Private"}, headers=auth_headers)
    ).json()
    headers = pat(await create_token(client, other_user_headers))
    assert (await client.get("/api/tasks", headers=headers)).json() == []
    for method in ("GET", "PATCH", "DELETE"):
        body = {"completed": True} if method == "PATCH" else None
        response = await client.request(
            method, f"/api/tasks/{theirs['id']}", json=body, headers=headers
        )
        assert response.status_code == 404
        assert response.json()["code"] == "task_not_found"


async def test_a_personal_token_syncs_and_gets_event_tickets_for_its_owner_only(
    client: httpx.AsyncClient, auth_headers: dict[str, str], other_user_headers: dict[str, str]
) -> None:
    mine = (await client.post("/api/tasks", json={"title": "Mine"}, headers=auth_headers)).json()
    await client.post("/api/tasks", json={"title": "Theirs"}, headers=other_user_headers)
    headers = pat(await create_token(client, auth_headers))
    synced = await client.get("/api/tasks/sync", headers=headers)
    assert synced.status_code == 200, synced.text
    assert [task["id"] for task in synced.json()["tasks"]] == [mine["id"]]
    ticket = await client.post("/api/events/ticket", headers=headers)
    assert ticket.status_code == 201, ticket.text
    assert ticket.json()["ticket"]


async def test_a_personal_token_cannot_manage_personal_tokens(
    client: httpx.AsyncClient, auth_headers: dict[str, str]
) -> None:
    token = await create_token(client, auth_headers)
    headers = pat(token)
    requests = [
        ("POST", "/api/auth/tokens", {"name": "another"}),
        ("GET", "/api/auth/tokens", None),
        ("DELETE", f"/api/auth/tokens/{token['id']}", None),
    ]
    for method, path, body in requests:
        response = await client.request(method, path, json=body, headers=headers)
        assert response.status_code == 403, (method, path)
        assert response.json()["code"] == "personal_token_forbidden"
    assert len((await client.get("/api/auth/tokens", headers=auth_headers)).json()) == 1
    assert (await client.get("/api/auth/me", headers=headers)).status_code == 200


async def test_a_personal_token_cannot_refresh_or_log_out(
    client: httpx.AsyncClient, auth_headers: dict[str, str]
) -> None:
    token = await create_token(client, auth_headers)
    for path in ("/api/auth/refresh", "/api/auth/logout"):
        response = await client.post(
            path, json={"refresh_token": token["token"]}, headers=pat(token)
        )
        assert response.status_code == 401, path
    assert (await client.get("/api/auth/me", headers=pat(token))).status_code == 200


async def test_a_revoked_token_fails_with_the_next_request(
    client: httpx.AsyncClient, auth_headers: dict[str, str]
) -> None:
    token = await create_token(client, auth_headers)
    kept = await create_token(client, auth_headers, name="kept")
    assert (await client.get("/api/tasks", headers=pat(token))).status_code == 200
    revoked = await client.delete(f"/api/auth/tokens/{token['id']}", headers=auth_headers)
    assert revoked.status_code == 204
    for path in ("/api/tasks", "/api/auth/me"):
        response = await client.get(path, headers=pat(token))
        assert response.status_code == 401
        assert response.json()["code"] == "token_invalid"
        assert response.headers["www-authenticate"].startswith("Bearer")
    assert (await client.get("/api/tasks", headers=pat(kept))).status_code == 200
    again = await client.delete(f"/api/auth/tokens/{token['id']}", headers=auth_headers)
    assert again.status_code == 404


async def test_another_users_token_cannot_be_revoked(
    client: httpx.AsyncClient, auth_headers: dict[str, str], other_user_headers: dict[str, str]
) -> None:
    theirs = await create_token(client, other_user_headers)
    response = await client.delete(f"/api/auth/tokens/{theirs['id']}", headers=auth_headers)
    assert response.status_code == 404
    assert response.json()["code"] == "token_not_found"
    assert (await client.get("/api/auth/me", headers=pat(theirs))).status_code == 200
    unknown = await client.delete(f"/api/auth/tokens/{uuid.uuid4()}", headers=auth_headers)
    assert unknown.status_code == 404
    malformed = await client.delete("/api/auth/tokens/not-an-id", headers=auth_headers)
    assert malformed.status_code == 422


async def test_an_expired_token_fails(
    client: httpx.AsyncClient, auth_headers: dict[str, str], engine: AsyncEngine
) -> None:
    token = await create_token(client, auth_headers, expires_in_days=1)
    assert (await client.get("/api/tasks", headers=pat(token))).status_code == 200
    await set_token_times(engine, token["id"], expires_at=utcnow() - timedelta(seconds=1))
    for path in ("/api/tasks", "/api/auth/me"):
        response = await client.get(path, headers=pat(token))
        assert response.status_code == 401
        assert response.json()["code"] == "token_expired"


async def test_unknown_or_edited_tokens_are_refused(
    client: httpx.AsyncClient, auth_headers: dict[str, str]
) -> None:
    real = (await create_token(client, auth_headers))["token"]
    edited = real[:-1] + ("A" if real[-1] != "A" else "B")
    for token in ("todo_pat_", "todo_pat_" + "A" * 43, edited, real + "x", real.upper()):
        response = await client.get("/api/tasks", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401
        assert response.json()["code"] == "token_invalid"


async def test_last_used_at_is_set_at_first_use_then_kept_to_the_minute(
    client: httpx.AsyncClient, auth_headers: dict[str, str], engine: AsyncEngine
) -> None:
    token = await create_token(client, auth_headers)
    before = utcnow()
    await client.get("/api/tasks", headers=pat(token))
    first_use = (await stored_token(engine, token["id"]))["last_used_at"]
    assert first_use is not None
    assert first_use >= before - timedelta(seconds=1)

    # Within the minute, further requests do not write.
    await client.get("/api/auth/me", headers=pat(token))
    assert (await stored_token(engine, token["id"]))["last_used_at"] == first_use

    # Once the stored time is a minute old, the next request brings it up to date.
    stale = utcnow() - timedelta(minutes=2)
    await set_token_times(engine, token["id"], last_used_at=stale)
    await client.post("/api/tasks", json={"title": "x"}, headers=pat(token))
    refreshed = (await stored_token(engine, token["id"]))["last_used_at"]
    assert refreshed > stale + timedelta(minutes=1)
    listed = (await client.get("/api/auth/tokens", headers=auth_headers)).json()
    assert datetime.fromisoformat(listed[0]["last_used_at"]) == refreshed


async def test_a_users_tokens_die_with_their_sessions_kept_apart(
    client: httpx.AsyncClient,
) -> None:
    """Logging out ends a session; personal tokens are not sessions and keep working."""
    auth = await register(client)
    token = await create_token(client, bearer(auth))
    logout = await client.post("/api/auth/logout", json={"refresh_token": auth["refresh_token"]})
    assert logout.status_code == 204
    assert (await client.get("/api/auth/me", headers=bearer(auth))).status_code == 401
    assert (await client.get("/api/auth/me", headers=pat(token))).status_code == 200


async def test_concurrent_gets_that_record_a_use_never_fail(
    client: httpx.AsyncClient, auth_headers: dict[str, str], engine: AsyncEngine
) -> None:
    """A GET reads in a deferred transaction on SQLite; the `last_used_at` UPDATE it makes
    when a token is due must wait for the write lock like any writer: begun as a read, it would
    fail at once with "database is locked" once another writer commits meanwhile. (On
    PostgreSQL the UPDATEs wait for the writer's row locks.)"""
    task = (
        await client.post("/api/tasks", json={"title": "Seen", "tags": ["x"]}, headers=auth_headers)
    ).json()
    tokens = [await create_token(client, auth_headers) for _ in range(3)]
    paths = ["/api/tasks", f"/api/tasks/{task['id']}", "/api/tags", "/api/auth/me"]
    async with engine.connect() as writer:
        await writer.execute(update(PersonalAccessToken).values(name="held"))  # holds the lock
        requests = [
            asyncio.create_task(client.get(path, headers=pat(token)))
            for token in tokens
            for path in paths
        ]
        await asyncio.sleep(0.5)  # they have read their token and wait to record its use
        await writer.commit()
    answers = await asyncio.gather(*requests)
    assert [answer.status_code for answer in answers] == [200] * len(requests), answers[0].text
    for token in tokens:
        assert (await stored_token(engine, token["id"]))["last_used_at"] is not None


async def insert_tokens(engine: AsyncEngine, user_id: str, count: int) -> None:
    """`count` tokens of the user's, straight into the table (creating 100 one by one through
    HTTP only repeats what the route's own test does once)."""
    now = utcnow()
    rows = [
        {
            "id": uuid.uuid4(),
            "user_id": uuid.UUID(user_id),
            "name": f"script {n}",
            "token_hash": hashlib.sha256(uuid.uuid4().bytes).hexdigest(),
            "created_at": now,
            "expires_at": None,
            "last_used_at": None,
        }
        for n in range(count)
    ]
    async with engine.begin() as connection:
        await connection.execute(insert(PersonalAccessToken), rows)


async def test_the_101st_token_is_refused_until_one_is_revoked(
    client: httpx.AsyncClient,
    user: dict[str, Any],
    auth_headers: dict[str, str],
    other_user_headers: dict[str, str],
    engine: AsyncEngine,
) -> None:
    await insert_tokens(engine, user["user"]["id"], MAX_TOKENS_PER_USER - 1)
    last = await create_token(client, auth_headers)
    refused = await client.post("/api/auth/tokens", json={"name": "one more"}, headers=auth_headers)
    assert refused.status_code == 422
    assert refused.json()["code"] == "limit_reached"
    listed = (await client.get("/api/auth/tokens", headers=auth_headers)).json()
    assert len(listed) == MAX_TOKENS_PER_USER
    # The cap is per user: another user still creates theirs.
    await create_token(client, other_user_headers)
    # Revoking one makes room for one.
    await client.delete(f"/api/auth/tokens/{last['id']}", headers=auth_headers)
    await create_token(client, auth_headers)


async def test_concurrent_creations_never_pass_the_cap(
    client: httpx.AsyncClient,
    user: dict[str, Any],
    auth_headers: dict[str, str],
    engine: AsyncEngine,
) -> None:
    """Ten creations at once with room for two: each counts the others, so two are made."""
    await insert_tokens(engine, user["user"]["id"], MAX_TOKENS_PER_USER - 2)
    answers = await asyncio.gather(
        *(
            client.post("/api/auth/tokens", json={"name": f"racer {n}"}, headers=auth_headers)
            for n in range(10)
        )
    )
    assert sorted(answer.status_code for answer in answers) == [201] * 2 + [422] * 8
    listed = (await client.get("/api/auth/tokens", headers=auth_headers)).json()
    assert len(listed) == MAX_TOKENS_PER_USER
