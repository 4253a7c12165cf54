"""Issue 24's webhook figures, on a database of their own (BENCH_DATABASE_URL's name + `_webhooks`):

1. What 10 subscribed endpoints add to the request that makes a change: `POST /api/tasks`, one
   at a time, alternating between a user with no webhooks and one with 10, on one worker with
   the sender off (the delivery is queued in the request's transaction, never sent inline; the
   sender's own CPU would otherwise blur the comparison on a small machine). Target: < 2 ms p50.
2. How fast one instance (one worker) sends: the deliveries queued by step 1 (10 per change)
   sent to a fast local receiver (`webhook_receiver.py`) by a server started with the sender
   on; the rate between 10 % and 90 % delivered. Target: >= 200 deliveries/s.
"""

from __future__ import annotations

import asyncio
import statistics
import subprocess
import sys
import time
import uuid
from urllib.parse import urlsplit, urlunsplit

import httpx
from common import BENCH, BACKEND, DATABASE_URL, PASSWORD, env_int, fail, say
from seed import asyncpg_dsn, migrate, recreate_database
from server import Server, free_port, start_server

CHANGES = env_int("BENCH_WEBHOOK_CHANGES", 400)
ENDPOINTS = 10


def _database_url() -> str:
    parts = urlsplit(DATABASE_URL)
    return urlunsplit(parts._replace(path=parts.path + "_webhooks"))


def _server_env(url: str, port: int, sender: bool, receiver_port: int) -> dict[str, str]:
    import os

    return os.environ | {
        "DATABASE_URL": url,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "WORKERS": "1",
        "JWT_SECRET": "bench-" + "x" * 48,
        "LOG_LEVEL": "warning",
        "REGISTER_RATE_LIMIT": "1000000/hour",
        "LOGIN_RATE_LIMIT": "1000000/minute",
        "WEBHOOK_SENDER": "true" if sender else "false",
        "WEBHOOK_ALLOW_HTTP": "true",
        "WEBHOOK_ALLOW_HOSTS": "127.0.0.1/32",
        "WEBHOOK_POLL_SECONDS": "0.2",
    }


def _register(client: httpx.Client) -> str:
    body = {"email": f"{uuid.uuid4().hex}@example.com", "name": "Bench", "password": PASSWORD}
    response = client.post("/api/auth/register", json=body)
    if response.status_code != 201:
        fail(f"register: {response.status_code} {response.text}")
    return str(response.json()["access_token"])


async def _counts(url: str) -> tuple[int, int]:
    import asyncpg

    connection = await asyncpg.connect(asyncpg_dsn(url))
    try:
        row = await connection.fetchrow(
            "SELECT count(*) FILTER (WHERE status = 'succeeded') AS done, count(*) AS total "
            "FROM webhook_deliveries"
        )
        return int(row["done"]), int(row["total"])
    finally:
        await connection.close()


def run_webhooks() -> None:
    say("== webhooks (issue 24): the cost of queueing, and one instance's sending rate")
    url = _database_url()
    asyncio.run(recreate_database(url))
    receiver_port = free_port()
    receiver = subprocess.Popen(
        [sys.executable, str(BENCH / "webhook_receiver.py"), str(receiver_port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _measure(url, receiver_port)
    finally:
        receiver.terminate()
        receiver.wait()
    say()


def _measure(url: str, receiver_port: int) -> None:
    port = free_port()
    env = _server_env(url, port, False, receiver_port)
    migrate(env)
    command = [sys.executable, "-m", "app", "serve"]
    server: Server = start_server("webhooks", command, BACKEND, env, port, workers=1)
    try:
        with httpx.Client(base_url=server.base, timeout=30) as client:
            plain = {"Authorization": f"Bearer {_register(client)}"}
            hooked = {"Authorization": f"Bearer {_register(client)}"}
            for n in range(ENDPOINTS):
                response = client.post(
                    "/api/webhooks",
                    json={"url": f"http://127.0.0.1:{receiver_port}/hook/{n}", "events": ["*"]},
                    headers=hooked,
                )
                if response.status_code != 201:
                    fail(f"webhook: {response.status_code} {response.text}")
            for _ in range(20):  # warm-up
                client.post("/api/tasks", json={"title": "warm"}, headers=plain)
            times: dict[str, list[float]] = {"plain": [], "hooked": []}
            for n in range(CHANGES):
                for name, headers in (("plain", plain), ("hooked", hooked))[:: 1 if n % 2 else -1]:
                    started = time.perf_counter()
                    response = client.post("/api/tasks", json={"title": f"t{n}"}, headers=headers)
                    times[name].append((time.perf_counter() - started) * 1000)
                    if response.status_code != 201:
                        fail(f"create: {response.status_code} {response.text}")
    finally:
        server.stop()
    p50 = {name: statistics.median(values) for name, values in times.items()}
    added = p50["hooked"] - p50["plain"]
    say(
        f"POST /api/tasks p50, {CHANGES} each, one at a time: no webhooks {p50['plain']:.2f} ms, "
        f"{ENDPOINTS} endpoints {p50['hooked']:.2f} ms: {added:+.2f} ms"
    )
    say(f"{'PASS' if added < 2 else 'FAIL'} a change with 10 endpoints adds < 2 ms p50 ({added:+.2f} ms)")

    done, total = asyncio.run(_counts(url))
    if total != CHANGES * ENDPOINTS or done:
        fail(f"expected {CHANGES * ENDPOINTS} pending deliveries, found {total} ({done} sent)")
    env = _server_env(url, port, True, receiver_port)
    server = start_server("webhooks-sender", command, BACKEND, env, port, workers=1)
    samples: list[tuple[float, int]] = []
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            done, _ = asyncio.run(_counts(url))
            samples.append((time.monotonic(), done))
            if done >= total:
                break
            time.sleep(0.25)
    finally:
        server.stop()
    low = next(((t, d) for t, d in samples if d >= total * 0.1), None)
    high = next(((t, d) for t, d in samples if d >= total * 0.9), None)
    if low is None or high is None or high[0] <= low[0]:
        fail(f"the sender delivered {samples[-1][1]} of {total} within 300 s")
        return
    rate = (high[1] - low[1]) / (high[0] - low[0])
    say(f"one instance (1 worker) sent {total} deliveries to a local receiver at {rate:.0f}/s")
    say(f"{'PASS' if rate >= 200 else 'FAIL'} one instance sends >= 200 deliveries/s ({rate:.0f}/s)")
