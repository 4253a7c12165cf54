"""The webhook events of the lists work: `task.moved` (a move, or a PATCH naming another list or
parent: one event, not two), `list.updated` and `list.deleted`, and deliveries that follow the
change log's fan-out (every member of the task's list hears of it on their own endpoints; a
member who loses sight of a moved task hears `task.deleted`). The first test runs the app's own
sender against a real receiver on 127.0.0.1; the others read the outbox rows."""

import json
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.config import Settings
from app.integrations.models import Webhook, WebhookDelivery
from app.integrations.sender import WebhookSender
from tests.conftest import make_settings
from tests.support.membership import add_member, user_id_of
from tests.support.receiver import Receiver, running_receiver

pytestmark = pytest.mark.anyio

Headers = dict[str, str]


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(
        database_url,
        webhook_allow_http=True,
        webhook_allow_hosts=["127.0.0.1/32"],
        webhook_poll_seconds=0.05,
        webhook_backoff_base_seconds=0.01,
    )


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as receiver:
        yield receiver


@pytest.fixture
async def sender(app: Any) -> AsyncIterator[WebhookSender]:
    sender: WebhookSender = app.state.webhook_sender
    await sender.start()
    yield sender
    await sender.stop()


async def subscribe(
    client: httpx.AsyncClient, headers: Headers, receiver: Receiver, path: str
) -> dict[str, Any]:
    response = await client.post(
        "/api/webhooks", json={"url": receiver.base_url + path, "events": ["*"]}, headers=headers
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    receiver.secrets[path] = [created["secret"]]
    return created


async def make_list(client: httpx.AsyncClient, headers: Headers, name: str) -> Any:
    response = await client.post("/api/lists", json={"name": name}, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


async def make_task(client: httpx.AsyncClient, headers: Headers, **body: Any) -> Any:
    response = await client.post("/api/tasks", json={"title": "t", **body}, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


async def queued(engine: AsyncEngine, webhook: dict[str, Any]) -> list[dict[str, Any]]:
    """What one endpoint was sent (or will be), oldest first."""
    async with engine.connect() as connection:
        statement = (
            select(WebhookDelivery.body)
            .join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
            .where(Webhook.id == uuid.UUID(webhook["id"]))
            .order_by(WebhookDelivery.created_at)
        )
        return [json.loads(body) for body in await connection.scalars(statement)]


def types(bodies: list[dict[str, Any]]) -> list[str]:
    return [body["type"] for body in bodies]


async def test_moves_and_list_changes_arrive_signed_at_a_real_receiver(
    client: httpx.AsyncClient, auth_headers: Headers, receiver: Receiver, sender: WebhookSender
) -> None:
    target = await make_list(client, auth_headers, "Work")
    task = await make_task(client, auth_headers)
    await subscribe(client, auth_headers, receiver, "/hook")
    moved = await client.post(
        f"/api/tasks/{task['id']}/move", json={"list_id": target["id"]}, headers=auth_headers
    )
    assert moved.status_code == 200, moved.text
    renamed = await client.patch(
        f"/api/lists/{target['id']}", json={"name": "Job"}, headers=auth_headers
    )
    assert renamed.status_code == 200, renamed.text
    deleted = await client.delete(f"/api/lists/{target['id']}", headers=auth_headers)
    assert deleted.status_code == 204, deleted.text
    received = await receiver.arrived("/hook", 4)
    assert all(r.verified for r in received)
    by_type = {r.json["type"]: r.json["data"] for r in received}
    # The list's deletion takes its task with it: its `task.deleted` comes too.
    assert set(by_type) == {"task.moved", "list.updated", "list.deleted", "task.deleted"}
    assert by_type["task.moved"]["id"] == task["id"]
    assert by_type["task.moved"]["list_id"] == target["id"]
    assert by_type["list.updated"]["name"] == "Job"
    assert by_type["list.updated"]["role"] == "owner"
    assert by_type["list.deleted"] == {"id": target["id"]}


async def test_a_patch_that_moves_is_one_task_moved_event(
    client: httpx.AsyncClient, auth_headers: Headers, engine: AsyncEngine, receiver: Receiver
) -> None:
    target = await make_list(client, auth_headers, "Work")
    parent = await make_task(client, auth_headers, list_id=target["id"])
    task = await make_task(client, auth_headers)
    webhook = await subscribe(client, auth_headers, receiver, "/hook")
    path = f"/api/tasks/{task['id']}"
    to_list = await client.patch(
        path, json={"list_id": target["id"], "title": "moved"}, headers=auth_headers
    )
    assert to_list.status_code == 200, to_list.text
    to_parent = await client.patch(path, json={"parent_id": parent["id"]}, headers=auth_headers)
    assert to_parent.status_code == 200, to_parent.text
    same_place = await client.patch(path, json={"list_id": target["id"]}, headers=auth_headers)
    assert same_place.status_code == 200, same_place.text
    bodies = await queued(engine, webhook)
    # Naming the list it is already in is no move.
    assert types(bodies) == ["task.moved", "task.moved", "task.updated"]
    assert bodies[0]["data"]["title"] == "moved"
    assert bodies[0]["data"]["list_id"] == target["id"]
    assert bodies[1]["data"]["parent_id"] == parent["id"]


async def test_every_member_hears_of_a_shared_lists_changes_on_their_own_endpoints(
    client: httpx.AsyncClient,
    auth_headers: Headers,
    other_user_headers: Headers,
    engine: AsyncEngine,
    receiver: Receiver,
) -> None:
    shared = await make_list(client, auth_headers, "Shared")
    private = await make_list(client, auth_headers, "Private")
    other = await user_id_of(client, other_user_headers)
    await add_member(engine, shared["id"], other, role="editor")
    mine = await subscribe(client, auth_headers, receiver, "/mine")
    theirs = await subscribe(client, other_user_headers, receiver, "/theirs")

    task = await make_task(client, auth_headers, list_id=shared["id"])
    await make_task(client, auth_headers, list_id=private["id"])  # theirs never hears of it
    edited = await client.patch(
        f"/api/tasks/{task['id']}", json={"title": "by them"}, headers=other_user_headers
    )
    assert edited.status_code == 200, edited.text
    await client.patch(f"/api/lists/{shared['id']}", json={"name": "Ours"}, headers=auth_headers)
    # Moved to a list the other member is not in: to them, the task is gone.
    moved = await client.post(
        f"/api/tasks/{task['id']}/move", json={"list_id": private["id"]}, headers=auth_headers
    )
    assert moved.status_code == 200, moved.text
    await client.delete(f"/api/lists/{shared['id']}", headers=auth_headers)

    assert types(await queued(engine, mine)) == [
        "task.created",
        "task.created",
        "task.updated",
        "list.updated",
        "task.moved",
        "list.deleted",
    ]
    seen_by_them = await queued(engine, theirs)
    assert types(seen_by_them) == [
        "task.created",
        "task.updated",
        "list.updated",
        "task.deleted",
        "list.deleted",
    ]
    assert seen_by_them[1]["data"]["title"] == "by them"
    # The list as each member sees it: their own role.
    assert seen_by_them[2]["data"]["role"] == "editor"
    assert seen_by_them[3]["data"] == {"id": task["id"]}
