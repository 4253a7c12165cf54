"""The outbox: a delivery row per subscribed endpoint, written in the transaction of the change
it reports, so that a change and its deliveries commit (or roll back) together. The sender
(`app.integrations.sender`) sends them afterwards; nothing here talks to the network.

Deliveries follow the change log's fan-out: `app.sync.changelog.record_changes` calls
`enqueue_task_events` for the user whose log records the change, so every user who sees a
change gets it on their own endpoints, as on their own event stream. An event that is not a
task change (a list renamed, a comment) is one call in the writing transaction:

    await enqueue(connection=connection, user_id=member_id, event="list.updated", data={...})

once per user who sees it.
"""

import json
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from app.core.models import utcnow
from app.integrations.events import EventType, subscribed
from app.integrations.models import Webhook, WebhookDelivery
from app.tasks.listing import PUBLIC_COLUMNS
from app.tasks.models import Task
from app.tasks.schemas import TaskPublic

_ENDPOINTS = select(Webhook.id, Webhook.events).where(
    Webhook.user_id == bindparam("user_id"), Webhook.enabled.is_(True)
)


def body(event: str, at: datetime, data: Mapping[str, Any]) -> str:
    """What a delivery sends: `{type, timestamp, data}`, fixed when the change happens."""
    timestamp = at.isoformat().replace("+00:00", "Z")
    return json.dumps({"type": event, "timestamp": timestamp, "data": data}, default=str)


async def _endpoints(
    connection: AsyncConnection, user_id: uuid.UUID, event: str
) -> list[uuid.UUID]:
    rows = await connection.execute(_ENDPOINTS, {"user_id": user_id})
    return [row.id for row in rows if subscribed(row.events, event)]


def delivery_row(webhook_id: uuid.UUID, event: str, text: str, at: datetime) -> dict[str, Any]:
    return {
        "id": uuid.uuid4(),
        "webhook_id": webhook_id,
        "event": event,
        "body": text,
        "status": "pending",
        "attempts": 0,
        "last_status_code": None,
        "last_error": None,
        "next_attempt_at": at,
        "lease": None,
        "created_at": at,
    }


async def enqueue(
    *, connection: AsyncConnection, user_id: uuid.UUID, event: EventType, data: Mapping[str, Any]
) -> int:
    """Queue one event for every enabled endpoint of the user subscribed to it; how many."""
    endpoints = await _endpoints(connection, user_id, event)
    if not endpoints:
        return 0
    at = utcnow()
    text = body(event, at, data)
    rows = [delivery_row(endpoint, event, text, at) for endpoint in endpoints]
    await connection.execute(insert(WebhookDelivery), rows)
    return len(rows)


async def enqueue_task_events(
    *,
    connection: AsyncConnection,
    user_id: uuid.UUID,
    task_ids: Sequence[uuid.UUID],
    event: EventType,
) -> int:
    """Queue one event per task for the user's endpoints subscribed to `event`, with the task
    as it is now in this transaction (`{"id"}` for a deletion: the task is gone)."""
    endpoints = await _endpoints(connection, user_id, event)
    if not endpoints:
        return 0  # the common case: one indexed read, nothing else
    data: list[Mapping[str, Any]]
    if event == "task.deleted":
        data = [{"id": str(task_id)} for task_id in task_ids]
    else:
        statement = select(*PUBLIC_COLUMNS).where(Task.id.in_(task_ids))
        found = {row["id"]: row for row in (await connection.execute(statement)).mappings()}
        data = [
            TaskPublic.model_validate(found[task_id]).model_dump(mode="json")
            for task_id in task_ids
            if task_id in found
        ]
    at = utcnow()
    rows = [
        delivery_row(endpoint, event, body(event, at, item), at)
        for item in data
        for endpoint in endpoints
    ]
    if rows:
        # executemany: one cached statement whatever the number of rows.
        await connection.execute(insert(WebhookDelivery), rows)
    return len(rows)
