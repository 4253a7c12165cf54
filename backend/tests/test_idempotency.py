"""POST /api/tasks with Idempotency-Key: a retry returns the first response and creates nothing;
the same key with another body is 422; a key still running is 409; keys are per user, stored in
the database, expire after 24 hours, and a key abandoned mid-request does not block forever."""

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.models import utcnow
from app.sync import idempotency
from app.sync.models import IdempotencyKey
from app.tasks.models import Task
from app.tasks.schemas import TaskCreate
from tests.conftest import make_client

pytestmark = pytest.mark.anyio

Headers = dict[str, str]


async def post(
    client: httpx.AsyncClient, headers: Headers, key: str | None, body: dict[str, Any]
) -> httpx.Response:
    extra = {"Idempotency-Key": key} if key is not None else {}
    return await client.post("/api/tasks", json=body, headers=headers | extra)


async def count_tasks(client: httpx.AsyncClient, headers: Headers) -> int:
    response = await client.get("/api/tasks", headers=headers)
    return int(response.headers["X-Total-Count"])


async def test_a_retry_returns_the_first_response_and_creates_nothing(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    first = await post(client, auth_headers, "key-1", {"title": "Pay rent"})
    assert first.status_code == 201
    retry = await post(client, auth_headers, "key-1", {"title": "Pay rent"})
    assert retry.status_code == 201
    assert retry.json() == first.json()
    assert retry.headers["Location"] == first.headers["Location"]
    assert retry.headers["ETag"] == first.headers["ETag"]
    assert retry.headers["Idempotency-Replayed"] == "true"
    assert await count_tasks(client, auth_headers) == 1
    # The first response, even after the task changed since.
    await client.patch(first.headers["Location"], json={"title": "x"}, headers=auth_headers)
    again = await post(client, auth_headers, "key-1", {"title": "Pay rent"})
    assert again.json()["title"] == "Pay rent"
    # A body that means the same (defaults spelled out) is the same request.
    same = await post(client, auth_headers, "key-1", {"title": "Pay rent", "priority": "Medium"})
    assert same.status_code == 201
    assert await count_tasks(client, auth_headers) == 1


async def test_the_same_key_with_another_body_is_422(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    await post(client, auth_headers, "key-2", {"title": "A"})
    response = await post(client, auth_headers, "key-2", {"title": "B"})
    assert response.status_code == 422
    assert response.json()["code"] == "idempotency_key_reused"
    assert await count_tasks(client, auth_headers) == 1


async def test_keys_of_different_users_never_collide(
    client: httpx.AsyncClient, auth_headers: Headers, other_user_headers: Headers
) -> None:
    mine = await post(client, auth_headers, "shared", {"title": "Mine"})
    theirs = await post(client, other_user_headers, "shared", {"title": "Theirs"})
    assert mine.status_code == theirs.status_code == 201
    assert mine.json()["id"] != theirs.json()["id"]
    assert theirs.json()["title"] == "Theirs"


@pytest.mark.parametrize("key", ["", "x" * 256, "with space", "caf\u00e9", "tab\there"])
async def test_keys_must_be_1_to_255_visible_ascii_characters(
    client: httpx.AsyncClient, auth_headers: Headers, key: str
) -> None:
    response = await client.post(
        "/api/tasks",
        json={"title": "x"},
        headers=[*auth_headers.items(), ("Idempotency-Key", key.encode())],
    )
    assert response.status_code == 422
    assert await count_tasks(client, auth_headers) == 0


async def test_a_key_still_running_is_409_then_abandoned_claims_are_taken_over(
    client: httpx.AsyncClient, engine: AsyncEngine, user: dict[str, Any], auth_headers: Headers
) -> None:
    user_id = uuid.UUID(user["user"]["id"])
    body = {"title": "Slow"}
    fingerprint = idempotency.fingerprint(TaskCreate.model_validate(body).model_dump(mode="json"))
    async with engine.begin() as connection:  # another instance is running this request
        await idempotency.claim(
            connection=connection, user_id=user_id, key="k", fingerprint=fingerprint
        )
    busy = await post(client, auth_headers, "k", body)
    assert busy.status_code == 409
    assert busy.json()["code"] == "idempotency_in_progress"
    assert int(busy.headers["Retry-After"]) >= 1
    # That instance died: after the lease, a retry goes ahead.
    async with engine.begin() as connection:
        await connection.execute(
            update(IdempotencyKey).values(claimed_at=utcnow() - idempotency.LEASE)
        )
    done = await post(client, auth_headers, "k", body)
    assert done.status_code == 201
    assert await count_tasks(client, auth_headers) == 1
    assert (await post(client, auth_headers, "k", body)).json() == done.json()


async def test_a_failed_request_frees_its_key(
    client: httpx.AsyncClient, auth_headers: Headers, engine: AsyncEngine
) -> None:
    # 5,001 characters pass the body limit but not validation: nothing is claimed at all.
    response = await post(client, auth_headers, "k", {"title": "x", "description": "d" * 5001})
    assert response.status_code == 422
    assert (await post(client, auth_headers, "k", {"title": "ok"})).status_code == 201
    async with engine.connect() as connection:
        states = (await connection.execute(select(IdempotencyKey.status_code))).scalars().all()
    assert states == [201]


async def test_keys_expire_after_24_hours(
    client: httpx.AsyncClient, auth_headers: Headers, engine: AsyncEngine
) -> None:
    await post(client, auth_headers, "daily", {"title": "Water plants"})
    async with engine.begin() as connection:
        await connection.execute(
            update(IdempotencyKey).values(created_at=utcnow() - timedelta(hours=24, seconds=1))
        )
    # Reused after expiry, even with another body: a new request.
    again = await post(client, auth_headers, "daily", {"title": "Water plants again"})
    assert again.status_code == 201
    assert "Idempotency-Replayed" not in again.headers
    assert await count_tasks(client, auth_headers) == 2
    async with engine.begin() as connection:
        await connection.execute(
            update(IdempotencyKey).values(created_at=utcnow() - timedelta(days=2))
        )
        assert await idempotency.delete_expired_keys(connection=connection) == 1
        assert await idempotency.delete_expired_keys(connection=connection) == 0


async def test_concurrent_retries_with_one_key_create_exactly_one_task(
    needs_postgres: None, app: Any, engine: AsyncEngine, auth_headers: Headers
) -> None:
    """Twenty copies of one request at once: one creates, the others see it running (409) or
    get its response; never a second task."""
    async with make_client(app) as client:
        answers = await asyncio.gather(
            *(post(client, auth_headers, "burst", {"title": "Once"}) for _ in range(20))
        )
    statuses = sorted(a.status_code for a in answers)
    assert set(statuses) <= {201, 409}, statuses
    created = {a.json()["id"] for a in answers if a.status_code == 201}
    assert len(created) == 1
    async with engine.connect() as connection:
        stored = (await connection.execute(select(func.count()).select_from(Task))).scalar_one()
    assert stored == 1
