"""The probes of an orchestrator: `/api/health/live` touches nothing, `/api/health/ready` says
whether to send work here (database, broker, not draining), within a second."""

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import anyio
import httpx
import pytest

from app.main import create_app
from tests.conftest import make_client, make_settings

pytestmark = pytest.mark.anyio

REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A TCP port that accepts connections and never answers (a hung database or Redis)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join()
        for connection in accepted:
            connection.close()
        listener.close()


async def test_live_and_ready_answer_200_when_all_is_well(client: httpx.AsyncClient) -> None:
    live = await client.get("/api/health/live")
    ready = await client.get("/api/health/ready")
    assert live.status_code == 200
    assert live.json() == {"status": "ok"}
    assert ready.status_code == 200
    assert ready.json() == {"status": "ok", "database": "ok", "broker": "not_configured"}


async def test_ready_is_503_shutting_down_once_the_drain_begins_and_live_stays_200(
    app: Any, client: httpx.AsyncClient, auth_headers: dict[str, str]
) -> None:
    app.state.drain.begin()
    ready = await client.get("/api/health/ready")
    assert ready.status_code == 503
    assert ready.headers["retry-after"]
    assert ready.json()["code"] == "shutting_down"
    assert ready.json()["draining"] is True
    assert ready.json()["detail"]
    # Everything else is still served while the load balancer takes notice.
    assert (await client.get("/api/health/live")).status_code == 200
    assert (await client.get("/api/tasks", headers=auth_headers)).status_code == 200


async def test_ready_is_503_within_about_a_second_when_the_database_hangs(
    silent_port: int,
) -> None:
    # The connect timeout is long: the probe's own one-second bound is what must answer.
    settings = make_settings(
        f"postgresql://postgres@127.0.0.1:{silent_port}/none", db_connect_timeout=60
    )
    app = create_app(settings)
    async with make_client(app) as client:
        started = time.monotonic()
        with anyio.fail_after(30):
            ready = await client.get("/api/health/ready")
        elapsed = time.monotonic() - started
        live = await client.get("/api/health/live")
    assert ready.status_code == 503
    assert ready.json()["code"] == "database_unavailable"
    assert ready.json()["database"] == "unavailable"
    assert elapsed < 10, "the probe waited for the driver's timeout instead of one second"
    assert live.status_code == 200  # liveness never asks the database


async def test_ready_checks_the_broker_when_one_is_configured(
    database_url: str, engine: Any, silent_port: int
) -> None:
    with_redis = create_app(make_settings(database_url, events_broker_url=REDIS_URL), engine=engine)
    hung = create_app(
        make_settings(database_url, events_broker_url=f"redis://127.0.0.1:{silent_port}/0"),
        engine=engine,
    )
    async with make_client(with_redis) as client:
        ok = await client.get("/api/health/ready")
    async with make_client(hung) as client:
        with anyio.fail_after(30):
            down = await client.get("/api/health/ready")
    await with_redis.state.events.aclose()
    await hung.state.events.aclose()
    assert ok.status_code == 200, ok.text
    assert ok.json()["broker"] == "ok"
    assert down.status_code == 503
    assert down.json()["code"] == "broker_unavailable"
    assert down.json()["database"] == "ok"
