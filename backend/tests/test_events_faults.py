"""Event streams when things go wrong: a client that never reads, the server shutting down,
Redis going away and coming back, PostgreSQL restarting under open streams."""

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, insert, select, update

from app.accounts.models import User
from app.core.models import utcnow
from app.sync.models import TaskChange
from tests.conftest import bearer
from tests.support.events import EventStream
from tests.support.instances import instances, register_user
from tests.support.server import free_port, running_server, server_env
from tests.test_outage import (
    Cluster,
    cluster,  # noqa: F401 (a fixture: our own PostgreSQL cluster)
)

pytestmark = pytest.mark.anyio


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


async def test_a_client_that_never_reads_is_disconnected_not_buffered(
    needs_sqlite: None, tmp_path: Path
) -> None:
    """Thousands of 5 KB events owed to a client that reads nothing: the server stops writing
    when the socket is full and hangs up after its send timeout, without holding the backlog in
    memory. Meanwhile an idle stream gets its heartbeat comments."""
    database = tmp_path / "slow.db"
    env = server_env(f"sqlite:///{database}", free_port())
    with running_server(env, tmp_path / "server.log") as server:
        auth = register_user(server)
        headers = bearer(auth)
        user_id = uuid.UUID(auth["user"]["id"])
        async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as client:
            body = {"title": "big", "description": "x" * 5000}
            task = (await client.post("/api/tasks", json=body, headers=headers)).json()
            owed = 8000  # about 42 MB of events
            engine = create_engine(f"sqlite:///{database}")
            with engine.begin() as connection:
                # After the log's entries so far (the Inbox's creation, the task's).
                logged = connection.execute(
                    select(User.change_seq).where(User.id == user_id)
                ).scalar_one()
                rows = [
                    {
                        "user_id": user_id,
                        "seq": seq,
                        "task_id": uuid.UUID(task["id"]),
                        "kind": "updated",
                        "at": utcnow(),
                    }
                    for seq in range(logged + 1, logged + owed + 1)
                ]
                connection.execute(insert(TaskChange), rows)
                connection.execute(
                    update(User).where(User.id == user_id).values(change_seq=logged + owed)
                )
            engine.dispose()

            before = rss_kib(server.process.pid)
            idle = EventStream(
                client, headers=headers | {"Last-Event-ID": f"{owed + 1}.{user_id.hex[:8]}"}
            )
            assert (await idle.open()).status_code == 200
            slow = socket.create_connection(("127.0.0.1", int(server.base_url.rsplit(":", 1)[1])))
            slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
            request = (
                f"GET /api/events HTTP/1.1\r\nHost: test\r\n"
                f"Authorization: Bearer {auth['access_token']}\r\n"
                f"Last-Event-ID: 1.{user_id.hex[:8]}\r\n\r\n"
            )
            slow.sendall(request.encode())
            status_line = slow.recv(12)  # all it ever reads before the end
            assert status_line == b"HTTP/1.1 200", status_line
            await asyncio.sleep(22)  # the socket fills, then the 15 s send timeout runs out
            grown_kib = rss_kib(server.process.pid) - before
            heartbeats = len(idle.comments)
            await idle.close()
            received = 0
            slow.settimeout(10)
            while chunk := slow.recv(1 << 20):
                received += len(chunk)
            slow.close()
            # The server still serves.
            assert (await client.get("/api/tasks", headers=headers)).status_code == 200

    assert received > 100_000, "the stream should have sent until the socket was full"
    assert received < owed * 5000 / 2, "the server wrote (nearly) everything: nothing blocked"
    print(f"slow client: received {received} bytes; server grew {grown_kib} KiB")
    assert grown_kib < 20 * 1024, f"the server grew by {grown_kib} KiB for one slow client"
    assert heartbeats >= 1, "an idle stream got no comment line within 22 s"


async def test_sigterm_ends_open_streams_and_exits_promptly(
    needs_sqlite: None, tmp_path: Path
) -> None:
    env = server_env(f"sqlite:///{tmp_path / 'todo.db'}", free_port())
    with running_server(env, tmp_path / "server.log") as server:
        headers = bearer(register_user(server))
        async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as client:
            streams = [EventStream(client, headers=headers) for _ in range(3)]
            for stream in streams:
                assert (await stream.open()).status_code == 200
            sent = time.monotonic()
            server.process.send_signal(signal.SIGTERM)
            for stream in streams:
                await asyncio.wait_for(stream.ended.wait(), 5)
            code = await asyncio.to_thread(server.process.wait, 25)
            took = time.monotonic() - sent
            for stream in streams:
                await stream.close()
        log = server.log()
    assert code == 0, log
    assert took < 5, f"exiting took {took:.1f} s with streams open"
    assert "Traceback" not in log


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator["RedisProcess"]:
    if shutil.which("redis-server") is None:
        if os.environ.get("CI"):
            pytest.fail("CI needs redis-server for the broker fault test")
        pytest.skip("redis-server is not installed")
    redis = RedisProcess(free_port(), tmp_path)
    redis.start()
    try:
        yield redis
    finally:
        redis.stop()


class RedisProcess:
    def __init__(self, port: int, folder: Path) -> None:
        self.port, self.folder = port, folder
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.folder),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


async def delivery_seconds(
    writer: httpx.AsyncClient, stream: EventStream, headers: dict[str, str], timeout: float
) -> float:
    sent = time.monotonic()
    title = uuid.uuid4().hex
    response = await writer.post("/api/tasks", json={"title": title}, headers=headers)
    assert response.status_code == 201
    event = await stream.next(timeout)
    assert event.json()["title"] == title
    return event.received_at - sent


async def test_with_redis_down_streams_get_local_events_and_catch_up_when_it_is_back(
    needs_postgres: None, tmp_path: Path, private_redis: RedisProcess
) -> None:
    with instances(tmp_path, 2, events_broker_url=private_redis.url) as (a, b):
        headers = bearer(register_user(a))
        async with (
            httpx.AsyncClient(base_url=a.base_url, timeout=10) as on_a,
            httpx.AsyncClient(base_url=b.base_url, timeout=10) as on_b,
            EventStream(on_a, headers=headers) as stream_a,
            EventStream(on_b, headers=headers) as stream_b,
        ):
            assert await delivery_seconds(on_a, stream_b, headers, 2) < 1
            stream_a.pending()

            private_redis.stop()
            # Writes go on; A's own stream hears at once, B's when its check reads the log.
            assert await delivery_seconds(on_a, stream_a, headers, 2) < 1
            assert await asyncio.wait_for(stream_b.next(5), 5)
            private_redis.start()
            # Once resubscribed, B hears within 1 s again.
            await asyncio.sleep(4)
            stream_a.pending(), stream_b.pending()
            assert await delivery_seconds(on_a, stream_b, headers, 2) < 1
        assert "Traceback" not in a.log() + b.log()


async def test_streams_survive_a_postgresql_restart(
    needs_postgres: None,
    tmp_path: Path,
    cluster: Cluster,  # noqa: F811
) -> None:
    with instances(tmp_path, 1, database_url=cluster.url) as (server,):
        headers = bearer(register_user(server))
        async with (
            httpx.AsyncClient(base_url=server.base_url, timeout=10) as client,
            EventStream(client, headers=headers) as stream,
        ):
            assert await delivery_seconds(client, stream, headers, 2) < 1
            subprocess.run(cluster.stop_command(), check=True, capture_output=True)
            statuses = []
            for _ in range(5):
                statuses.append(
                    (
                        await client.post("/api/tasks", json={"title": "x"}, headers=headers)
                    ).status_code
                )
                await asyncio.sleep(0.3)
            subprocess.run(cluster.start_command(), check=True, capture_output=True)
            deadline = time.monotonic() + 15
            while (await client.get("/api/health")).status_code != 200:
                assert time.monotonic() < deadline, "the service did not recover"
                await asyncio.sleep(0.2)
            # The stream either goes on (and delivers what is written now) or has ended.
            if not stream.ended.is_set():
                assert await delivery_seconds(client, stream, headers, 6) < 6
        log = server.log()
    assert set(statuses) <= {503}, statuses
    assert " 500 " not in log
    assert "Traceback" not in log


async def test_without_a_broker_the_workers_of_one_instance_still_share_events_within_a_second(
    needs_sqlite: None, tmp_path: Path
) -> None:
    """`make serve` runs several workers; without EVENTS_BROKER_URL a write on one worker
    reaches the streams on the others through their counter checks."""
    env = server_env(f"sqlite:///{tmp_path / 'todo.db'}", free_port(), workers="2")
    with running_server(env, tmp_path / "server.log") as server:
        headers = bearer(register_user(server))
        async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as client:
            streams = [EventStream(client, headers=headers) for _ in range(6)]
            try:
                for stream in streams:
                    assert (await stream.open()).status_code == 200
                for _ in range(3):
                    sent = time.monotonic()
                    title = uuid.uuid4().hex
                    await client.post("/api/tasks", json={"title": title}, headers=headers)
                    for stream in streams:
                        event = await stream.next(3)
                        assert event.json()["title"] == title
                        assert event.received_at - sent < 1.0
            finally:
                for stream in streams:
                    await stream.close()
