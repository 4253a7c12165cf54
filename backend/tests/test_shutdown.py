"""The real server (`python -m app run`): SIGTERM lets requests in flight finish, then the
process exits 0, promptly and within GRACEFUL_SHUTDOWN_SECONDS; and what it sends on the wire
names no server software."""

import asyncio
import signal
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.support.server import free_port, running_server, server_env
from tests.support.timing import TIMING_SLACK_SECONDS, within

pytestmark = pytest.mark.anyio

NEW_USER = {"email": "drain@example.com", "name": "Drain", "password": "x" * 12}
# Hashing at cost 14 takes about a second here: a register request long enough to be in flight.
SLOW_BCRYPT_ROUNDS = "14"
GRACEFUL_SECONDS = 20


def register(base_url: str) -> httpx.Response:
    body = {"email": f"{uuid.uuid4().hex}@example.com", "name": "Slow", "password": "x" * 12}
    return httpx.post(f"{base_url}/api/auth/register", json=body, timeout=30)


def test_sigterm_lets_the_request_in_flight_finish_then_exits_0(tmp_path: Path) -> None:
    env = server_env(
        f"sqlite:///{tmp_path / 'todo.db'}",
        free_port(),
        bcrypt_rounds=SLOW_BCRYPT_ROUNDS,
        graceful_shutdown_seconds=str(GRACEFUL_SECONDS),
    )
    with running_server(env, tmp_path / "server.log") as server, ThreadPoolExecutor(1) as pool:
        in_flight = pool.submit(register, server.base_url)
        time.sleep(0.5)  # the request is being handled: hashing takes ~1 s
        assert not in_flight.done()
        sent_at = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        response = in_flight.result()
        finished_at = time.monotonic()
        exit_code = server.process.wait(timeout=within(GRACEFUL_SECONDS))
        exited_at = time.monotonic()

    assert response.status_code == 201, response.text
    assert response.json()["access_token"]
    assert exit_code == 0, server.log()
    assert exited_at - finished_at < TIMING_SLACK_SECONDS, "the server lingered after it"
    assert exited_at - sent_at < within(GRACEFUL_SECONDS), "it outlived GRACEFUL_SHUTDOWN_SECONDS"


def test_idle_server_names_no_software_and_exits_0_at_once_on_sigterm(tmp_path: Path) -> None:
    env = server_env(f"sqlite:///{tmp_path / 'todo.db'}", free_port())
    with running_server(env, tmp_path / "server.log") as server:
        for path in ("/api/health", "/api/nothing-here", "/openapi.json"):
            response = httpx.get(f"{server.base_url}{path}")
            assert "server" not in response.headers, path
            assert response.headers["x-content-type-options"] == "nosniff", path
            assert "uvicorn" not in response.text.lower(), path
        sent_at = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(timeout=20) == 0, server.log()
        assert time.monotonic() - sent_at < TIMING_SLACK_SECONDS


def test_sigterm_turns_ready_503_first_serves_during_the_drain_then_exits_0(
    tmp_path: Path,
) -> None:
    env = server_env(
        f"sqlite:///{tmp_path / 'todo.db'}",
        free_port(),
        shutdown_drain_seconds="3",
        graceful_shutdown_seconds="20",
    )
    with (
        running_server(env, tmp_path / "server.log") as server,
        httpx.Client(base_url=server.base_url, timeout=10) as client,
    ):
        assert client.get("/api/health/ready").status_code == 200
        sent_at = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 10
        while (ready := client.get("/api/health/ready")).status_code == 200:
            assert time.monotonic() < deadline, "ready never turned 503"
            time.sleep(0.05)
        # Not ready, but still serving: new connections too, not only this kept-alive one.
        assert ready.status_code == 503
        assert ready.json()["code"] == "shutting_down"
        assert httpx.get(f"{server.base_url}/api/health/live").status_code == 200
        assert register(server.base_url).status_code == 201
        exit_code = server.process.wait(timeout=30)
        exited_at = time.monotonic()

    assert exit_code == 0, server.log()
    assert exited_at - sent_at >= 2.5, "the server did not wait out SHUTDOWN_DRAIN_SECONDS"
    assert exited_at - sent_at < 20, "the server outlived GRACEFUL_SHUTDOWN_SECONDS"


async def read_stream(client: httpx.AsyncClient, headers: dict[str, str]) -> list[str]:
    """The lines of one event stream, until the server ends it."""
    async with client.stream("GET", "/api/events", headers=headers) as response:
        assert response.status_code == 200
        return [line async for line in response.aiter_lines()]


async def test_sigterm_ends_event_streams_with_a_retry_hint_at_the_start_of_the_drain(
    tmp_path: Path,
) -> None:
    env = server_env(
        f"sqlite:///{tmp_path / 'todo.db'}",
        free_port(),
        shutdown_drain_seconds="10",
        graceful_shutdown_seconds="30",
    )
    with running_server(env, tmp_path / "server.log") as server:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=60) as client:
            auth = (await client.post("/api/auth/register", json=NEW_USER)).json()
            headers = {"Authorization": f"Bearer {auth['access_token']}"}
            stream = asyncio.create_task(read_stream(client, headers))
            await asyncio.sleep(1)  # the stream is open
            sent_at = time.monotonic()
            server.process.send_signal(signal.SIGTERM)
            lines = await asyncio.wait_for(stream, 30)
            ended_after = time.monotonic() - sent_at
            # A stream opened during the drain is told at once to go elsewhere.
            late = await asyncio.wait_for(read_stream(client, headers), 30)
        exit_code = server.process.wait(timeout=60)

    for got in (lines, late):
        retries = [int(line.removeprefix("retry:")) for line in got if line.startswith("retry:")]
        assert len(retries) == 1, got
        assert 1000 <= retries[0] <= 5000
    assert ended_after < 8, "the stream stayed open until the shutdown proper"
    assert exit_code == 0, server.log()
