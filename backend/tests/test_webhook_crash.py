"""Never lost, on real server processes: the service is killed (SIGKILL) with deliveries in
flight and more pending, the receiver is down when it restarts, and still every delivery
arrives afterwards, those cut off mid-send with the webhook-id they had."""

import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from tests.conftest import TEST_DATABASE_URL, bearer
from tests.support.instances import own_postgres_database, register_user
from tests.support.receiver import Behaviour, Receiver, running_receiver
from tests.support.server import Server, free_port, server_env, start_server

SETTINGS = {
    "webhook_allow_http": "true",
    "webhook_allow_hosts": "127.0.0.1/32",
    "webhook_poll_seconds": "0.1",
    "webhook_timeout_seconds": "2",
    "webhook_lease_seconds": "1",  # the sender makes it timeout + 5 s: 7 s
    "webhook_backoff_base_seconds": "0.02",  # 20 ms, 1.2 s, 7.2 s, ...
}


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    with ExitStack() as stack:
        if TEST_DATABASE_URL is not None:
            yield stack.enter_context(own_postgres_database())
        else:
            yield f"sqlite:///{tmp_path / 'crash.db'}"


def test_a_killed_service_loses_no_delivery(tmp_path: Path, database_url: str) -> None:
    env = server_env(database_url, free_port(), **SETTINGS)
    servers: list[Server] = []
    try:
        with running_receiver() as receiver:
            servers.append(start_server(env, tmp_path / "first.log"))
            _run(servers, receiver, env, tmp_path)
    finally:
        for server in servers:
            server.stop()


def _run(servers: list[Server], receiver: Receiver, env: dict[str, str], tmp_path: Path) -> None:
    server = servers[0]
    headers = bearer(register_user(server))
    path = f"/hook-{uuid.uuid4().hex[:6]}"
    receiver.behaviours[path] = Behaviour(delay=60)  # in flight until the kill
    created = httpx.post(
        f"{server.base_url}/api/webhooks",
        json={"url": receiver.base_url + path, "events": ["task.created"]},
        headers=headers,
        timeout=10,
    )
    assert created.status_code == 201, created.text
    receiver.secrets[path] = [created.json()["secret"]]
    titles = {f"task {n}" for n in range(20)}
    for title in sorted(titles):
        response = httpx.post(
            f"{server.base_url}/api/tasks", json={"title": title}, headers=headers, timeout=10
        )
        assert response.status_code == 201
    cut_off = receiver.wait_for(path, 1)  # at least one is being sent right now
    server.process.kill()  # SIGKILL: no shutdown, no cleanup
    server.process.wait()
    in_flight = {r.headers["webhook-id"] for r in cut_off}

    # The receiver is down while the service comes back.
    port = int(receiver.base_url.rsplit(":", 1)[1])
    receiver.stop()
    receiver.behaviours[path] = Behaviour()
    servers.append(start_server(env, tmp_path / "second.log"))
    time.sleep(1.5)
    receiver.start(port)

    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        answered = [r for r in receiver.at(path) if r.headers["webhook-id"] not in in_flight]
        ids = {r.headers["webhook-id"] for r in receiver.at(path)}
        titles_seen = {r.json["data"]["title"] for r in receiver.at(path)}
        if titles_seen == titles and len(ids) == 20 and _resent(receiver, path, in_flight):
            break
        time.sleep(0.1)
    received = receiver.at(path)
    assert {r.json["data"]["title"] for r in received} == titles
    assert len({r.headers["webhook-id"] for r in received}) == 20
    assert all(r.verified for r in received)
    # Those cut off by the kill came again, with the same webhook-id.
    assert _resent(receiver, path, in_flight), answered


def _resent(receiver: Receiver, path: str, in_flight: set[str]) -> bool:
    counts = [r.headers["webhook-id"] for r in receiver.at(path)]
    return all(counts.count(message_id) >= 2 for message_id in in_flight)
