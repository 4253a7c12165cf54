"""`/metrics` of a real server with two worker processes: whichever worker answers the scrape,
the counts are the sum over both, exactly; a worker that dies takes neither its counts away nor
leaves its gauges behind; and event streams are counted while open."""

import asyncio
import os
import re
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from prometheus_client.mmap_dict import MmapedDict

from tests.support.events import EventStream
from tests.support.metrics import Scrape, requests_count
from tests.support.server import free_port, running_server, server_env

pytestmark = pytest.mark.anyio

REQUESTS = 120
MAX_BATCHES = 20


def scrape(base_url: str) -> Scrape:
    # A new connection each time: any of the workers may answer.
    response = httpx.get(f"{base_url}/metrics", timeout=30)
    assert response.status_code == 200, response.text
    return Scrape.parse(response.text)


def worker_pids(tmp: Path) -> set[int]:
    """The processes that have counted a request (their histogram files)."""
    (directory,) = tmp.glob("todo-api-metrics-*")
    names = (path.name for path in directory.glob("histogram_*.db"))
    return {int(m.group(1)) for name in names if (m := re.search(r"_(\d+)\.db$", name))}


def pool_gauges(tmp: Path) -> set[int]:
    """The processes that have set their pool's size gauge (read from their files)."""
    (directory,) = tmp.glob("todo-api-metrics-*")
    pids = set()
    for path in directory.glob("gauge_livesum_*.db"):
        values = MmapedDict.read_all_values_from_file(str(path))
        if any("todo_db_pool_connections_max" in key and value > 0 for key, value, *_ in values):
            pids.add(int(path.name.removesuffix(".db").rsplit("_", 1)[1]))
    return pids


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def get(url: str) -> int:
    return httpx.get(url, timeout=30).status_code


def test_two_workers_sum_exactly_and_a_dead_worker_neither_drops_counts_nor_leaves_gauges(
    tmp_path: Path,
) -> None:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = server_env(
        f"sqlite:///{tmp_path / 'todo.db'}",
        free_port(),
        workers="2",
        tmpdir=str(tmp),
    )
    with running_server(env, tmp_path / "server.log") as server:
        url = f"{server.base_url}/api/health/live"
        # Concurrently, each on its own connection, until both workers have taken some: the
        # kernel may hand a busy machine's connections all to one worker for a while.
        sent = 0
        for _ in range(MAX_BATCHES):
            with ThreadPoolExecutor(8) as pool:
                statuses = list(pool.map(lambda _: get(url), range(REQUESTS)))
            assert statuses == [200] * REQUESTS
            sent += REQUESTS
            # Live ones: on a loaded machine uvicorn may have replaced a worker meanwhile.
            # Not the parent either: defining an unlabelled metric makes its (empty) file.
            workers = worker_pids(tmp) - {server.process.pid}
            if len(pids := {pid for pid in workers if alive(pid)}) == 2:
                break
        assert len(pids) == 2, f"not two live workers served the {sent} requests: {pids}"

        # Both workers' pools: what each may hold, summed over the live workers.
        pools = scrape(server.base_url).value("todo_db_pool_connections_max")
        assert pools > 0
        for _ in range(6):
            metrics = scrape(server.base_url)
            assert requests_count(metrics, "GET", "/api/health/live", 200) == sent
            assert metrics.value("todo_db_pool_connections_max") == pools

        # A worker dies (killed, no shutdown of its own); uvicorn starts another.
        victim = min(pids)
        os.kill(victim, signal.SIGKILL)
        # Until its replacement has started and counted its pool.
        deadline = time.monotonic() + 180
        while not (new := pool_gauges(tmp) - pids):
            assert time.monotonic() < deadline, "no worker replaced the dead one"
            time.sleep(0.2)
        with ThreadPoolExecutor(8) as pool:
            statuses = list(pool.map(lambda _: get(url), range(REQUESTS)))
        assert statuses == [200] * REQUESTS
        sent += REQUESTS
        assert victim not in new
        for _ in range(6):
            metrics = scrape(server.base_url)
            # The dead worker's requests still count: the total does not jump back.
            assert requests_count(metrics, "GET", "/api/health/live", 200) == sent
            # Its gauges are gone: two live workers' pools, not three.
            assert metrics.value("todo_db_pool_connections_max") == pools


async def test_open_event_streams_are_counted_across_workers(tmp_path: Path) -> None:
    env = server_env(f"sqlite:///{tmp_path / 'todo.db'}", free_port(), workers="2")
    with running_server(env, tmp_path / "server.log") as server:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as client:
            body = {"email": "streams@example.com", "name": "S", "password": "x" * 12}
            token = (await client.post("/api/auth/register", json=body)).json()["access_token"]
            headers = {"Authorization": f"Bearer {token}"}
            async with EventStream(client, headers=headers), EventStream(client, headers=headers):
                await asyncio.sleep(1.5)  # the gauges are sampled every second
                open_ = await asyncio.to_thread(scrape, server.base_url)
            await asyncio.sleep(1.5)
            closed = await asyncio.to_thread(scrape, server.base_url)
    assert open_.value("todo_event_streams_open") == 2
    assert closed.value("todo_event_streams_open") == 0
