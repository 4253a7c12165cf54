"""The real server (`python -m app run`): SIGTERM lets requests in flight finish, then the
process exits 0, promptly and within GRACEFUL_SHUTDOWN_SECONDS; and what it sends on the wire
names no server software."""

import signal
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from tests.support.server import free_port, running_server, server_env
from tests.support.timing import TIMING_SLACK_SECONDS, within

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
