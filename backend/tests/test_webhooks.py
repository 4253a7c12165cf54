"""The webhook routes: endpoints are the owner's alone, bad URLs and events are refused with
422, at most 10 per user (also when created at once), and a change queues its deliveries in
its own transaction, with the finest event type."""

import asyncio
import json
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from app.integrations.guard import Guard
from app.integrations.models import WebhookDelivery
from tests.conftest import bearer, register

pytestmark = pytest.mark.anyio

Headers = dict[str, str]
URL = "https://hooks.example.com/todo"


async def public_dns(host: str, port: int) -> list[str]:
    return {"internal.example.com": ["10.0.0.7"]}.get(host, ["93.184.215.14"])


@pytest.fixture(autouse=True)
def _stub_dns(app: Any) -> None:
    app.state.webhook_guard = Guard(resolver=public_dns)


async def create(client: httpx.AsyncClient, headers: Headers, **body: Any) -> dict[str, Any]:
    response = await client.post(
        "/api/webhooks", json={"url": URL, "events": ["*"], **body}, headers=headers
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def deliveries(engine: AsyncEngine) -> list[dict[str, Any]]:
    async with engine.connect() as connection:
        statement = select(WebhookDelivery.event, WebhookDelivery.body).order_by(
            WebhookDelivery.created_at
        )
        return [
            {"event": row.event, **json.loads(row.body)}
            for row in await connection.execute(statement)
        ]


async def test_a_webhook_shows_its_secret_once(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    created = await create(client, auth_headers, description="chat", events=["task.completed"])
    assert created["secret"].startswith("whsec_")
    assert created["enabled"] is True
    assert created["disabled_reason"] is None
    assert created["events"] == ["task.completed"]
    assert created["description"] == "chat"
    one = await client.get(f"/api/webhooks/{created['id']}", headers=auth_headers)
    listed = await client.get("/api/webhooks", headers=auth_headers)
    assert one.status_code == 200
    assert "secret" not in one.json()
    assert [w["id"] for w in listed.json()] == [created["id"]]
    assert created["secret"] not in listed.text + one.text


async def test_patch_changes_only_what_is_sent_and_delete_removes(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    created = await create(client, auth_headers, description="keep")
    path = f"/api/webhooks/{created['id']}"
    patched = await client.patch(
        path,
        json={"events": ["task.created", "task.created"], "enabled": False},
        headers=auth_headers,
    )
    assert patched.status_code == 200, patched.text
    body = patched.json()
    assert body["events"] == ["task.created"]
    assert body["enabled"] is False
    assert body["description"] == "keep"
    assert body["url"] == URL
    assert (await client.patch(path, json={"url": None}, headers=auth_headers)).status_code == 422
    assert (await client.delete(path, headers=auth_headers)).status_code == 204
    gone = await client.get(path, headers=auth_headers)
    assert gone.status_code == 404
    assert gone.json()["code"] == "webhook_not_found"


async def test_another_users_webhook_is_not_found_everywhere(
    client: httpx.AsyncClient, auth_headers: Headers, other_user_headers: Headers
) -> None:
    created = await create(client, auth_headers)
    path = f"/api/webhooks/{created['id']}"
    test = await client.post(f"{path}/test", headers=auth_headers)
    delivery_id = test.json()["delivery_id"]
    attempts = [
        client.get(path, headers=other_user_headers),
        client.patch(path, json={"enabled": False}, headers=other_user_headers),
        client.delete(path, headers=other_user_headers),
        client.post(f"{path}/test", headers=other_user_headers),
        client.post(f"{path}/rotate-secret", headers=other_user_headers),
        client.get(f"{path}/deliveries", headers=other_user_headers),
        client.post(f"{path}/deliveries/{delivery_id}/redeliver", headers=other_user_headers),
    ]
    for response in [await attempt for attempt in attempts]:
        assert response.status_code == 404, response.text
        assert response.json()["code"] == "webhook_not_found"
    assert (await client.get(f"{path}/deliveries", headers=auth_headers)).json()[0]["id"] == (
        delivery_id
    )
    # A delivery id of another endpoint, under one's own endpoint: not found either.
    mine = await create(client, other_user_headers)
    response = await client.post(
        f"/api/webhooks/{mine['id']}/deliveries/{delivery_id}/redeliver",
        headers=other_user_headers,
    )
    assert response.status_code == 404
    assert response.json()["code"] == "delivery_not_found"


@pytest.mark.parametrize(
    "url",
    [
        "http://hooks.example.com/todo",
        "https://user:secret@hooks.example.com/todo",
        "https://10.0.0.1/todo",
        "https://127.0.0.1/todo",
        "https://[::1]/todo",
        "https://2130706433/todo",
        "https://internal.example.com/todo",
        "not a url",
    ],
)
async def test_unsafe_urls_are_refused(
    client: httpx.AsyncClient, auth_headers: Headers, url: str
) -> None:
    response = await client.post(
        "/api/webhooks", json={"url": url, "events": ["*"]}, headers=auth_headers
    )
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "invalid_url"
    assert "secret" not in response.text or "user:secret" not in response.text
    assert (await client.get("/api/webhooks", headers=auth_headers)).json() == []


async def test_patching_to_an_unsafe_url_is_refused(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    created = await create(client, auth_headers)
    path = f"/api/webhooks/{created['id']}"
    response = await client.patch(path, json={"url": "https://10.0.0.1/"}, headers=auth_headers)
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_url"
    assert (await client.get(path, headers=auth_headers)).json()["url"] == URL


@pytest.mark.parametrize(
    "events", [["task.exploded"], ["*", "task.created"], [], "task.created", [None]]
)
async def test_unknown_or_malformed_events_are_refused(
    client: httpx.AsyncClient, auth_headers: Headers, events: Any
) -> None:
    response = await client.post(
        "/api/webhooks", json={"url": URL, "events": events}, headers=auth_headers
    )
    assert response.status_code == 422, response.text
    assert isinstance(response.json()["detail"], list)


async def test_an_eleventh_webhook_is_refused(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    for _ in range(10):
        await create(client, auth_headers)
    response = await client.post(
        "/api/webhooks", json={"url": URL, "events": ["*"]}, headers=auth_headers
    )
    assert response.status_code == 422
    assert response.json()["code"] == "limit_reached"
    assert len((await client.get("/api/webhooks", headers=auth_headers)).json()) == 10


async def test_webhooks_created_at_once_stop_at_ten(
    client: httpx.AsyncClient, auth_headers: Headers, needs_postgres: None
) -> None:
    for _ in range(6):
        await create(client, auth_headers)
    responses = await asyncio.gather(
        *[
            client.post("/api/webhooks", json={"url": URL, "events": ["*"]}, headers=auth_headers)
            for _ in range(8)
        ]
    )
    assert sorted(r.status_code for r in responses) == [201] * 4 + [422] * 4
    assert len((await client.get("/api/webhooks", headers=auth_headers)).json()) == 10


async def test_each_change_queues_its_finest_event_for_subscribed_endpoints(
    client: httpx.AsyncClient, auth_headers: Headers, engine: AsyncEngine
) -> None:
    await create(client, auth_headers, events=["task.updated"])
    everything = await create(client, auth_headers, events=["*"])
    task = (await client.post("/api/tasks", json={"title": "t"}, headers=auth_headers)).json()
    path = f"/api/tasks/{task['id']}"
    await client.patch(path, json={"completed": True}, headers=auth_headers)
    await client.patch(path, json={"completed": False}, headers=auth_headers)
    await client.patch(path, json={"title": "renamed"}, headers=auth_headers)
    await client.delete(path, headers=auth_headers)
    queued = await deliveries(engine)
    # The `task.updated` endpoint hears of the rename only; `*` of everything, once each.
    assert [d["type"] for d in queued] == [
        "task.created",
        "task.completed",
        "task.reopened",
        "task.updated",
        "task.updated",
        "task.deleted",
    ]
    assert queued[1]["data"]["completed"] is True
    assert queued[1]["data"]["id"] == task["id"]
    assert queued[4]["data"]["title"] == "renamed"
    assert queued[5]["data"] == {"id": task["id"]}
    assert all(d["timestamp"].endswith("Z") for d in queued)
    log = await client.get(f"/api/webhooks/{everything['id']}/deliveries", headers=auth_headers)
    assert [d["event"] for d in log.json()][0] == "task.deleted"
    assert {d["status"] for d in log.json()} == {"pending"}


async def test_a_write_that_fails_queues_nothing(
    client: httpx.AsyncClient, auth_headers: Headers, engine: AsyncEngine
) -> None:
    await create(client, auth_headers)
    task = (await client.post("/api/tasks", json={"title": "t"}, headers=auth_headers)).json()
    before = len(await deliveries(engine))
    # Refused writes (a rule that produces no date, a stale If-Match) queue no delivery.
    response = await client.patch(
        f"/api/tasks/{task['id']}",
        json={
            "title": "x",
            "due_date": "2026-02-28",
            "recurrence": "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30",
        },
        headers=auth_headers,
    )
    assert response.status_code == 422
    stale = await client.patch(
        f"/api/tasks/{task['id']}",
        json={"title": "y"},
        headers={**auth_headers, "If-Match": '"999"'},
    )
    assert stale.status_code == 412
    assert len(await deliveries(engine)) == before


async def test_a_disabled_endpoint_queues_nothing_and_refuses_tests(
    client: httpx.AsyncClient, auth_headers: Headers, engine: AsyncEngine
) -> None:
    created = await create(client, auth_headers)
    path = f"/api/webhooks/{created['id']}"
    await client.patch(path, json={"enabled": False}, headers=auth_headers)
    await client.post("/api/tasks", json={"title": "t"}, headers=auth_headers)
    assert await deliveries(engine) == []
    test = await client.post(f"{path}/test", headers=auth_headers)
    assert test.status_code == 422
    assert test.json()["code"] == "webhook_disabled"


async def test_another_users_change_reaches_only_their_endpoints(
    client: httpx.AsyncClient, auth_headers: Headers, engine: AsyncEngine
) -> None:
    await create(client, auth_headers)
    other = bearer(await register(client))
    await client.post("/api/tasks", json={"title": "theirs"}, headers=other)
    async with engine.connect() as connection:
        count = (
            await connection.execute(select(func.count()).select_from(WebhookDelivery))
        ).scalar_one()
    assert count == 0


async def test_rotating_returns_a_new_secret(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    created = await create(client, auth_headers)
    response = await client.post(
        f"/api/webhooks/{created['id']}/rotate-secret", headers=auth_headers
    )
    assert response.status_code == 200
    assert response.json()["secret"].startswith("whsec_")
    assert response.json()["secret"] != created["secret"]


async def test_unknown_ids_are_not_found(client: httpx.AsyncClient, auth_headers: Headers) -> None:
    response = await client.get(f"/api/webhooks/{uuid.uuid4()}", headers=auth_headers)
    assert response.status_code == 404
    assert response.json()["code"] == "webhook_not_found"
    bad = await client.get("/api/webhooks/not-a-uuid", headers=auth_headers)
    assert bad.status_code == 422
