"""A real webhook receiver on 127.0.0.1 for the tests: an HTTP server in a thread that records
every request, verifies its signature with `standardwebhooks`, and answers as told (a status,
a delay, a Retry-After), per path."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks import Webhook, WebhookVerificationError


@dataclass
class Behaviour:
    statuses: list[int] = field(default_factory=list)  # one per request; then 200
    delay: float = 0.0
    retry_after: str | None = None


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: str
    verified: bool  # the signature verified with the path's secret(s)
    at: float

    @property
    def json(self) -> Any:
        return json.loads(self.body)


class Receiver:
    def __init__(self) -> None:
        self.received: list[Received] = []
        self.secrets: dict[str, list[str]] = {}
        self.behaviours: dict[str, Behaviour] = {}
        self.lock = threading.Lock()
        self.server: ThreadingHTTPServer | None = None

    @property
    def base_url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def at(self, path: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.path == path]

    def wait_for(self, path: str, count: int, timeout: float = 20.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.at(path)
            if len(found) >= count:
                return found
            time.sleep(0.02)
        raise AssertionError(f"{path}: {len(self.at(path))} of {count} deliveries arrived")

    async def arrived(self, path: str, count: int, timeout: float = 20.0) -> list[Received]:
        """`wait_for` without blocking the event loop (the sender may run on it)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.at(path)
            if len(found) >= count:
                return found
            await asyncio.sleep(0.02)
        raise AssertionError(f"{path}: {len(self.at(path))} of {count} deliveries arrived")

    def verify(self, path: str, headers: dict[str, str], body: str) -> bool:
        for secret in self.secrets.get(path, []):
            try:
                Webhook(secret).verify(body, headers)
                return True
            except WebhookVerificationError:
                continue
        return False

    def handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 (the standard library's name)
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length).decode()
                headers = {k.lower(): v for k, v in self.headers.items()}
                behaviour = receiver.behaviours.get(self.path, Behaviour())
                with receiver.lock:
                    status = behaviour.statuses.pop(0) if behaviour.statuses else 200
                    receiver.received.append(
                        Received(
                            self.path,
                            headers,
                            body,
                            receiver.verify(self.path, headers, body),
                            time.monotonic(),
                        )
                    )
                if behaviour.delay:
                    time.sleep(behaviour.delay)
                self.send_response(status)
                if behaviour.retry_after is not None:
                    self.send_header("Retry-After", behaviour.retry_after)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler

    def start(self, port: int = 0) -> None:
        """Listen on 127.0.0.1:`port` (0: any free port; the same port again after `stop`)."""
        server = ThreadingHTTPServer(("127.0.0.1", port), self.handler())
        server.daemon_threads = True
        self.server = server
        threading.Thread(target=server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        """Stop listening: connections are refused until `start` again."""
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


@contextmanager
def running_receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    receiver.start()
    try:
        yield receiver
    finally:
        receiver.stop()
