"""Debian's headless Chromium for the tests that open a page, cut off from every network but
this machine's loopback: names other than 127.0.0.1 do not resolve, and anything that would go
out anyway meets a proxy that is not there. A fresh profile each time, and none of Chromium's
own background traffic (updates, sync, field trials)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from itertools import count
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.sync.client import ClientConnection, connect

from tests.support.server import free_port

PAGE_TIMEOUT_SECONDS = 60


def chromium() -> str:
    """The browser's path; without one the test is skipped, and fails under CI=1."""
    path = shutil.which("chromium")
    if path is None:
        message = "Debian's chromium is needed for browser tests (apt-get install -y chromium)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


def offline_command(profile: Path) -> list[str]:
    return [
        chromium(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-default-apps",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={profile}",
        "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
        "--proxy-server=http://127.0.0.1:9",  # the discard port: nothing listens there
        "--proxy-bypass-list=127.0.0.1",
    ]


def dump_dom(url: str, profile: Path, *, budget_ms: int = 20_000) -> str:
    """The page's DOM once its scripts ran (virtual time: the page's timers are fast-forwarded)."""
    result = subprocess.run(
        [*offline_command(profile), f"--virtual-time-budget={budget_ms}", "--dump-dom", url],
        capture_output=True,
        text=True,
        timeout=PAGE_TIMEOUT_SECONDS,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


class Page:
    """One open page, driven over the DevTools protocol."""

    def __init__(self, socket: ClientConnection) -> None:
        self._socket = socket
        self._ids = count(1)

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression (a promise is awaited); its errors raise."""
        answer = self._call(
            "Runtime.evaluate",
            expression=expression,
            awaitPromise=True,
            returnByValue=True,
            timeout=PAGE_TIMEOUT_SECONDS * 1000,
        )
        if "exceptionDetails" in answer:
            raise AssertionError(answer["exceptionDetails"].get("exception", answer))
        return answer["result"].get("value")

    def wait_until_loaded(self, url: str) -> None:
        """Until `url` has loaded: the tab starts on about:blank, and whatever runs in a page
        that is still navigating away fails with "Execution context was destroyed"."""
        loaded = f"document.readyState === 'complete' && location.href.startsWith({url!r})"
        deadline = time.monotonic() + PAGE_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            try:
                if self.evaluate(loaded):
                    return
            except AssertionError:
                pass
            time.sleep(0.1)
        raise AssertionError("the page did not load")

    def _call(self, method: str, **params: Any) -> dict[str, Any]:
        message_id = next(self._ids)
        self._socket.send(json.dumps({"id": message_id, "method": method, "params": params}))
        while True:
            message = json.loads(self._socket.recv(timeout=PAGE_TIMEOUT_SECONDS))
            if message.get("id") == message_id:
                if "error" in message:
                    raise AssertionError(message["error"])
                result: dict[str, Any] = message["result"]
                return result


@contextmanager
def open_page(url: str, profile: Path) -> Iterator[Page]:
    port = free_port()
    command = [*offline_command(profile), f"--remote-debugging-port={port}", url]
    with (profile.parent / "chromium.log").open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        with connect(_page_socket(port, url), max_size=None) as socket:
            page = Page(socket)
            page.wait_until_loaded(url)
            yield page
    finally:
        process.terminate()
        process.wait(10)


def _page_socket(port: int, url: str) -> str:
    deadline = time.monotonic() + PAGE_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        try:
            targets = httpx.get(f"http://127.0.0.1:{port}/json/list", timeout=2).json()
        except httpx.TransportError:
            targets = []
        for target in targets:
            if target["type"] == "page" and target["url"].startswith(url):
                socket_url: str = target["webSocketDebuggerUrl"]
                return socket_url
        time.sleep(0.1)
    raise AssertionError(f"chromium opened no page at {url}")
