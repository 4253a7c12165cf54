"""Server-Sent Events as a client's parser reads them: a list of events, each with its
`event`, `id` and `data` (parsed as JSON); comment lines (heartbeats) are not events. The
shape in which the OpenAPI document describes `GET /api/events` (app/sync/openapi.py)."""

import json
from typing import Any


def parse_events(text: str) -> list[dict[str, Any]]:
    events = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        fields: dict[str, Any] = {}
        data: list[str] = []
        for line in block.split("\n"):
            if not line or line.startswith(":"):
                continue
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "data":
                data.append(value)
            else:
                fields[name] = value
        if data:
            events.append({**fields, "data": json.loads("\n".join(data))})
    return events
