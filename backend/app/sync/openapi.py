"""What `GET /api/events` answers, for the OpenAPI document: a `text/event-stream` whose events
are each one of four shapes, and errors that are JSON like every other route's (FastAPI would
document them under the route's own media type, `text/event-stream`, which is not what is sent).

OpenAPI 3.1 has no member for the items of a stream (3.2 adds `itemSchema`): the stream's schema
describes it as a client's SSE parser hands it over, a list of events, each an object with
`event`, `id` (a sync cursor) and `data` (the `data:` line, JSON: a task, or a deleted task's
id). Comment lines (the heartbeat) are not events. tests/test_events.py validates real streams
against it, and the fuzzing test parses every stream it is sent the same way."""

from typing import Any

from app.core.errors import AppError, responses

TASK = {"$ref": "#/components/schemas/TaskPublic"}
DELETED = {
    "type": "object",
    "properties": {"id": {"type": "string", "format": "uuid"}},
    "required": ["id"],
    "additionalProperties": False,
}


def _event(name: str, data: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "title": name,
        "description": description,
        "type": "object",
        "properties": {
            "event": {"const": name},
            "id": {"type": "string", "description": "A sync cursor: resume after this event."},
            "data": data,
        },
        "required": ["event", "id", "data"],
    }


EVENT_SHAPES = [
    _event("task.created", TASK, "A task was created: the task."),
    _event("task.updated", TASK, "A task was changed: the task as it is now."),
    _event("task.deleted", DELETED, "A task was deleted: its id."),
    _event("reminder", TASK, "A task's `remind_at` has come: the task."),
]
STREAM_SCHEMA = {
    "type": "array",
    "description": "The stream, event after event, as an SSE parser reads it (`data` parsed "
    "as JSON).",
    "items": {"oneOf": EVENT_SHAPES},
}
STREAM_EXAMPLE = (
    ": connected\r\n\r\n"
    "event: task.deleted\r\nid: 42.1a2b3c4d\r\n"
    'data: {"id":"6f1c1d7e-1f0a-4a57-9a51-0c8f5d1c2b3a"}\r\n\r\n'
)


def event_stream_responses(*errors: type[AppError]) -> dict[int | str, dict[str, Any]]:
    """`responses=` of the events route: the stream, and each error as JSON."""
    declared: dict[int | str, dict[str, Any]] = {
        200: {
            "description": "Server-Sent Events: `task.created`, `task.updated` (data: the "
            "Task), `task.deleted` (data: `{id}`), `reminder` (data: the Task). Each `id:` is a "
            "sync cursor. A comment line at least every 15 s.",
            "content": {"text/event-stream": {"schema": STREAM_SCHEMA, "example": STREAM_EXAMPLE}},
        }
    }
    for status, spec in responses(*errors).items():
        spec = dict(spec)
        if "model" in spec:
            del spec["model"]
            spec["content"] = {
                "application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}
            }
        declared[status] = spec
    return declared
