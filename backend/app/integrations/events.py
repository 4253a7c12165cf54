"""The webhook event types. Each change has exactly one, the finest that applies: a task
completed is `task.completed` only, never also `task.updated`."""

from typing import Literal, get_args

EventType = Literal[
    "task.created",
    "task.updated",
    "task.completed",
    "task.reopened",
    "task.deleted",
    "task.moved",
    "reminder",
    "comment.created",
    "list.updated",
    "list.deleted",
    "webhook.test",
]
EVENT_TYPES: tuple[str, ...] = get_args(EventType)
ALL_EVENTS = "*"


def subscribed(events: list[str], event: str) -> bool:
    return ALL_EVENTS in events or event in events
