"""Deliveries to a real receiver on 127.0.0.1 (allowed through WEBHOOK_ALLOW_HOSTS and
WEBHOOK_ALLOW_HTTP), sent by the app's own sender with its intervals shrunk: signatures that
`standardwebhooks` verifies, retries with the same webhook-id and growing waits, Retry-After,
410, a receiver that hangs or answers slowly, rotation, tests and redeliveries."""

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.config import Settings
from app.core.database import create_database
from app.core.models import utcnow
from app.integrations.guard import Guard
from app.integrations.models import Webhook
from app.integrations.sender import WebhookSender
from tests.conftest import make_settings
from tests.support.receiver import Behaviour, Receiver, running_receiver

pytestmark = pytest.mark.anyio

Headers = dict[str, str]
TIMEOUT = 3.0


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(
        database_url,
        webhook_allow_http=True,
        webhook_allow_hosts=["127.0.0.1/32"],
        webhook_poll_seconds=0.05,
        webhook_backoff_base_seconds=0.01,  # 10 ms, 0.6 s, 3.6 s, ...
        webhook_timeout_seconds=TIMEOUT,
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
    client: httpx.AsyncClient,
    headers: Headers,
    receiver: Receiver,
    path: str,
    events: list[str] | None = None,
) -> dict[str, Any]:
    response = await client.post(
        "/api/webhooks",
        json={"url": receiver.base_url + path, "events": events or ["*"]},
        headers=headers,
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    receiver.secrets[path] = [created["secret"]]
    return created


async def log_of(client: httpx.AsyncClient, headers: Headers, webhook: dict[str, Any]) -> Any:
    response = await client.get(f"/api/webhooks/{webhook['id']}/deliveries", headers=headers)
    assert response.status_code == 200
    return response.json()


async def until(check: Any, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = await check()
        if value or time.monotonic() > deadline:
            return value
        await asyncio.sleep(0.05)


async def test_a_change_arrives_signed_as_standard_webhooks_says(
    client: httpx.AsyncClient, auth_headers: Headers, receiver: Receiver, sender: WebhookSender
) -> None:
    webhook = await subscribe(client, auth_headers, receiver, "/a")
    task = (await client.post("/api/tasks", json={"title": "hi"}, headers=auth_headers)).json()
    [received] = await receiver.arrived("/a", 1)
    assert received.verified
    assert received.json["type"] == "task.created"
    assert received.json["data"] == task
    assert received.headers["content-type"] == "application/json"
    [logged] = await until(lambda: _finished(client, auth_headers, webhook))
    assert received.headers["webhook-id"] == logged["id"]
    assert logged["status"] == "succeeded"
    assert logged["attempts"] == 1
    assert logged["last_status_code"] == 200
    # A wrong secret does not verify: the check above means something.
    receiver.secrets["/a"] = ["whsec_" + "QUJD" * 8]
    assert not receiver.verify("/a", received.headers, received.body)


async def _finished(client: httpx.AsyncClient, headers: Headers, webhook: Any) -> Any:
    log = await log_of(client, headers, webhook)
    return log if log and all(d["status"] != "pending" for d in log) else None


async def test_a_failing_receiver_is_retried_with_the_same_id_and_growing_waits(
    client: httpx.AsyncClient, auth_headers: Headers, receiver: Receiver, sender: WebhookSender
) -> None:
    receiver.behaviours["/flaky"] = Behaviour(statuses=[500, 500])
    webhook = await subscribe(client, auth_headers, receiver, "/flaky")
    await client.post("/api/tasks", json={"title": "t"}, headers=auth_headers)
    received = await receiver.arrived("/flaky", 3)
    assert len({r.headers["webhook-id"] for r in received}) == 1
    assert all(r.verified for r in received)
    assert len({r.headers["webhook-timestamp"] for r in received}) >= 1
    first_wait, second_wait = (received[1].at - received[0].at, received[2].at - received[1].at)
    assert second_wait > first_wait  # 0.6 s ± 20 % after 10 ms
    assert second_wait >= 0.45
    [logged] = await until(lambda: _finished(client, auth_headers, webhook))
    assert logged["status"] == "succeeded"
    assert logged["attempts"] == 3


async def test_retry_after_replaces_the_next_wait(
    client: httpx.AsyncClient, auth_headers: Headers, receiver: Receiver, sender: WebhookSender
) -> None:
    receiver.behaviours["/busy"] = Behaviour(statuses=[503], retry_after="2")
    webhook = await subscribe(client, auth_headers, receiver, "/busy")
    await client.post("/api/tasks", json={"title": "t"}, headers=auth_headers)
    await receiver.arrived("/busy", 1)
    [pending] = await until(lambda: _attempted(client, auth_headers, webhook))
    assert pending["status"] == "pending"
    assert pending["last_status_code"] == 503
    first, second = await receiver.arrived("/busy", 2)
    assert second.at - first.at >= 1.8  # not the 10 ms of the schedule


async def _attempted(client: httpx.AsyncClient, headers: Headers, webhook: Any) -> Any:
    log = await log_of(client, headers, webhook)
    return log if log and log[0]["attempts"] >= 1 else None


async def test_410_disables_the_endpoint_and_reenabling_resumes_its_deliveries(
    client: httpx.AsyncClient, auth_headers: Headers, receiver: Receiver, sender: WebhookSender
) -> None:
    receiver.behaviours["/gone"] = Behaviour(statuses=[410])
    webhook = await subscribe(client, auth_headers, receiver, "/gone")
    path = f"/api/webhooks/{webhook['id']}"
    await client.post("/api/tasks", json={"title": "first"}, headers=auth_headers)
    await receiver.arrived("/gone", 1)

    async def disabled() -> Any:
        body = (await client.get(path, headers=auth_headers)).json()
        return body if not body["enabled"] else None

    body = await until(disabled)
    assert "410" in body["disabled_reason"]
    await asyncio.sleep(0.5)
    assert len(receiver.at("/gone")) == 1  # nothing more while disabled
    enabled = await client.patch(path, json={"enabled": True}, headers=auth_headers)
    assert enabled.json()["enabled"] is True
    assert enabled.json()["disabled_reason"] is None
    first, again = await receiver.arrived("/gone", 2)
    assert again.headers["webhook-id"] == first.headers["webhook-id"]
    assert again.json["data"]["title"] == "first"


async def test_five_days_of_failures_disable_the_endpoint(
    client: httpx.AsyncClient,
    auth_headers: Headers,
    receiver: Receiver,
    sender: WebhookSender,
    engine: AsyncEngine,
) -> None:
    receiver.behaviours["/down"] = Behaviour(statuses=[500] * 5)
    webhook = await subscribe(client, auth_headers, receiver, "/down")
    async with engine.begin() as connection:
        since = utcnow() - timedelta(days=5, minutes=1)
        await connection.execute(update(Webhook).values(failing_since=since))
    await client.post("/api/tasks", json={"title": "t"}, headers=auth_headers)
    path = f"/api/webhooks/{webhook['id']}"

    async def disabled() -> Any:
        body = (await client.get(path, headers=auth_headers)).json()
        return body if not body["enabled"] else None

    body = await until(disabled)
    assert "5 days" in body["disabled_reason"]


async def test_a_success_resets_the_failure_clock(
    client: httpx.AsyncClient,
    auth_headers: Headers,
    receiver: Receiver,
    sender: WebhookSender,
    engine: AsyncEngine,
) -> None:
    webhook = await subscribe(client, auth_headers, receiver, "/ok")
    async with engine.begin() as connection:
        since = utcnow() - timedelta(days=4)
        await connection.execute(update(Webhook).values(failing_since=since))
    await client.post("/api/tasks", json={"title": "t"}, headers=auth_headers)
    await receiver.arrived("/ok", 1)
    await until(lambda: _finished(client, auth_headers, webhook))
    receiver.behaviours["/ok"] = Behaviour(statuses=[500])
    async with engine.begin() as connection:  # a day later, it fails once
        await connection.execute(
            update(Webhook)
            .where(Webhook.failing_since.is_not(None))
            .values(failing_since=utcnow() - timedelta(days=5, minutes=1))
        )
    await client.post("/api/tasks", json={"title": "u"}, headers=auth_headers)
    await receiver.arrived("/ok", 2)
    body = (await client.get(f"/api/webhooks/{webhook['id']}", headers=auth_headers)).json()
    assert body["enabled"] is True


async def test_a_hanging_receiver_is_cut_off_and_retried(
    client: httpx.AsyncClient, auth_headers: Headers, receiver: Receiver, sender: WebhookSender
) -> None:
    receiver.behaviours["/hang"] = Behaviour(delay=TIMEOUT + 4)
    webhook = await subscribe(client, auth_headers, receiver, "/hang")
    await client.post("/api/tasks", json={"title": "t"}, headers=auth_headers)
    started = time.monotonic()
    [logged] = await until(lambda: _attempted(client, auth_headers, webhook))
    assert time.monotonic() - started < TIMEOUT + 3.5  # cut off, not waited out
    assert logged["status"] == "pending"
    assert logged["last_status_code"] is None
    assert f"within {TIMEOUT:g} s" in logged["last_error"]
    await receiver.arrived("/hang", 2)  # and tried again


async def test_a_slow_receiver_does_not_hold_up_other_endpoints(
    client: httpx.AsyncClient, auth_headers: Headers, receiver: Receiver, sender: WebhookSender
) -> None:
    receiver.behaviours["/slow"] = Behaviour(delay=2.0)
    await subscribe(client, auth_headers, receiver, "/slow")
    await subscribe(client, auth_headers, receiver, "/fast")
    await client.post("/api/tasks", json={"title": "one"}, headers=auth_headers)
    [slow] = await receiver.arrived("/slow", 1)  # and now the slow one is being answered...
    await client.post("/api/tasks", json={"title": "two"}, headers=auth_headers)
    fast = await receiver.arrived("/fast", 2)
    # ...while the fast endpoint got the second change before the slow one answered the first.
    assert fast[1].at < slow.at + 2.0
    assert fast[1].json["data"]["title"] == "two"


async def test_after_rotation_both_secrets_verify_for_a_day(
    client: httpx.AsyncClient, auth_headers: Headers, receiver: Receiver, sender: WebhookSender
) -> None:
    webhook = await subscribe(client, auth_headers, receiver, "/r")
    old = webhook["secret"]
    rotated = await client.post(
        f"/api/webhooks/{webhook['id']}/rotate-secret", headers=auth_headers
    )
    new = rotated.json()["secret"]
    await client.post("/api/tasks", json={"title": "t"}, headers=auth_headers)
    [received] = await receiver.arrived("/r", 1)
    assert len(received.headers["webhook-signature"].split(" ")) == 2
    for secret in (old, new):
        receiver.secrets["/r"] = [secret]
        assert receiver.verify("/r", received.headers, received.body)


async def test_the_test_event_and_a_redelivery_keep_their_id(
    client: httpx.AsyncClient, auth_headers: Headers, receiver: Receiver, sender: WebhookSender
) -> None:
    webhook = await subscribe(client, auth_headers, receiver, "/t", events=["task.deleted"])
    path = f"/api/webhooks/{webhook['id']}"
    queued = await client.post(f"{path}/test", headers=auth_headers)
    assert queued.status_code == 202
    [test] = await receiver.arrived("/t", 1)
    assert test.verified
    assert test.json["type"] == "webhook.test"
    assert test.json["data"] == {"webhook_id": webhook["id"]}
    delivery_id = queued.json()["delivery_id"]
    assert test.headers["webhook-id"] == delivery_id
    await until(lambda: _finished(client, auth_headers, webhook))
    again = await client.post(f"{path}/deliveries/{delivery_id}/redeliver", headers=auth_headers)
    assert again.status_code == 202
    _, redelivered = await receiver.arrived("/t", 2)
    assert redelivered.headers["webhook-id"] == delivery_id
    assert redelivered.body == test.body

    async def twice() -> Any:
        log = await log_of(client, auth_headers, webhook)
        return log if log[0]["attempts"] == 2 and log[0]["status"] == "succeeded" else None

    assert await until(twice)
    await client.patch(path, json={"enabled": False}, headers=auth_headers)
    refused = await client.post(f"{path}/deliveries/{delivery_id}/redeliver", headers=auth_headers)
    assert refused.status_code == 422
    assert refused.json()["code"] == "webhook_disabled"


async def test_a_deleted_task_never_makes_a_delivery_fail(
    client: httpx.AsyncClient, auth_headers: Headers, receiver: Receiver, app: Any
) -> None:
    """Created, changed and deleted before the sender runs: each change arrives as it was."""
    webhook = await subscribe(client, auth_headers, receiver, "/d")
    task = (await client.post("/api/tasks", json={"title": "a"}, headers=auth_headers)).json()
    await client.patch(f"/api/tasks/{task['id']}", json={"title": "b"}, headers=auth_headers)
    await client.delete(f"/api/tasks/{task['id']}", headers=auth_headers)
    sender: WebhookSender = app.state.webhook_sender
    await sender.run_once()
    received = await receiver.arrived("/d", 3)
    assert sorted(r.json["type"] for r in received) == [
        "task.created",
        "task.deleted",
        "task.updated",
    ]
    assert {r.json["data"].get("title") for r in received} == {"a", "b", None}
    assert all(d["status"] == "succeeded" for d in await log_of(client, auth_headers, webhook))
    await sender.stop()


async def test_senders_side_by_side_send_each_delivery_once(
    client: httpx.AsyncClient,
    auth_headers: Headers,
    receiver: Receiver,
    engine: AsyncEngine,
    settings: Settings,
) -> None:
    """Three senders (as in three workers or instances) share 60 deliveries: each arrives
    exactly once (on PostgreSQL they claim at the same time, skipping each other's rows)."""
    await subscribe(client, auth_headers, receiver, "/many")
    for n in range(60):
        await client.post("/api/tasks", json={"title": f"t{n}"}, headers=auth_headers)
    guard = Guard.from_settings(True, ["127.0.0.1/32"])
    senders = [WebhookSender(create_database(engine, settings), settings, guard) for _ in range(3)]
    for one in senders:
        await one.start()
    try:
        received = await receiver.arrived("/many", 60)
        await asyncio.sleep(0.5)
    finally:
        for one in senders:
            await one.stop()
    ids = [r.headers["webhook-id"] for r in receiver.at("/many")]
    assert len(ids) == 60
    assert len(set(ids)) == 60
    assert {r.json["data"]["title"] for r in received} == {f"t{n}" for n in range(60)}
