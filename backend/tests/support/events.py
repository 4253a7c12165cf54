"""A small Server-Sent Events client for the tests: opens `GET /api/events` on a real server and
parses what arrives (events and comment lines) in a background task."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.support.timing import within


@dataclass
class Event:
    event: str
    id: str | None
    data: str
    received_at: float

    def json(self) -> Any:
        return json.loads(self.data)


@dataclass
class EventStream:
    client: httpx.AsyncClient
    params: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    response: httpx.Response | None = None
    comments: list[float] = field(default_factory=list)
    ended: asyncio.Event = field(default_factory=asyncio.Event)
    error: str | None = None  # why reading stopped, when it was an error
    _events: asyncio.Queue[Event] = field(default_factory=asyncio.Queue)
    _reader: asyncio.Task[None] | None = None
    _context: Any = None

    async def open(self) -> httpx.Response:
        """Send the request; the stream is read in the background when the answer is 200."""
        request = self.client.build_request(
            "GET", "/api/events", params=self.params, headers=self.headers
        )
        self.response = await self.client.send(request, stream=True)
        if self.response.status_code == 200:
            self._reader = asyncio.create_task(self._read(self.response))
        else:
            await self.response.aread()
            await self.response.aclose()
        return self.response

    async def _read(self, response: httpx.Response) -> None:
        fields: dict[str, str] = {}
        data: list[str] = []
        try:
            async for line in response.aiter_lines():
                if line == "":
                    if data or "event" in fields:
                        event = Event(
                            fields.get("event", "message"),
                            fields.get("id"),
                            "\n".join(data),
                            time.monotonic(),
                        )
                        self._events.put_nowait(event)
                    fields, data = {}, []
                elif line.startswith(":"):
                    self.comments.append(time.monotonic())
                else:
                    name, _, value = line.partition(":")
                    value = value.removeprefix(" ")
                    if name == "data":
                        data.append(value)
                    else:
                        fields[name] = value
        except httpx.HTTPError as exc:
            self.error = repr(exc)
        finally:
            self.ended.set()

    async def next(self, timeout: float = within(1.0)) -> Event:
        return await asyncio.wait_for(self._events.get(), timeout)

    async def take(self, count: int, timeout: float = within(1.0)) -> list[Event]:
        return [await self.next(timeout) for _ in range(count)]

    def pending(self) -> list[Event]:
        events = []
        while not self._events.empty():
            events.append(self._events.get_nowait())
        return events

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
        if self.response is not None:
            await self.response.aclose()

    async def __aenter__(self) -> EventStream:
        response = await self.open()
        assert response.status_code == 200, response.text
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
