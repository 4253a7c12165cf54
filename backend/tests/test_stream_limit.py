"""API.md: a user holds at most 10 event streams on one instance; the next there gets 429 with
`Retry-After`. An instance of `make serve` is several worker processes that share no memory:
the limit is the instance's, whatever its worker count (app.sync.slots)."""

import asyncio
import os
import shutil
import signal
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from app.sync.hub import MAX_STREAMS_PER_USER
from app.sync.slots import FileSlots
from tests.conftest import bearer
from tests.support.events import EventStream
from tests.support.instances import instances, register_user
from tests.support.server import Server

pytestmark = pytest.mark.anyio

WORKERS = 2
# More than twice the limit: with a limit per worker, all of them but a few would be accepted.
ATTEMPTS = 2 * MAX_STREAMS_PER_USER + 4


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with instances(tmp_path_factory.mktemp("limit"), count=1, workers=str(WORKERS)) as running:
        yield running[0]


@pytest.fixture
async def client(server: Server) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as client:
        yield client


def worker_pids(server: Server) -> list[int]:
    """The worker processes uvicorn runs for this instance (its children that serve)."""
    parent = server.process.pid
    children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
    return [
        int(pid) for pid in children if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()
    ]


async def open_streams(
    client: httpx.AsyncClient, headers: dict[str, str], count: int
) -> tuple[list[EventStream], list[httpx.Response]]:
    """`count` streams opened at once (each on its own connection, so both workers take some):
    those accepted, and every refusal."""
    streams = [EventStream(client, headers=headers) for _ in range(count)]
    responses = await asyncio.gather(*(stream.open() for stream in streams))
    accepted = [s for s, r in zip(streams, responses, strict=True) if r.status_code == 200]
    refused = [r for r in responses if r.status_code != 200]
    return accepted, refused


async def test_the_limit_holds_for_the_instance_across_its_workers(
    server: Server, client: httpx.AsyncClient
) -> None:
    assert len(worker_pids(server)) == WORKERS
    headers = bearer(register_user(server))
    accepted, refused = await open_streams(client, headers, ATTEMPTS)
    try:
        assert len(accepted) == MAX_STREAMS_PER_USER
        assert len(refused) == ATTEMPTS - MAX_STREAMS_PER_USER
        for response in refused:
            assert response.status_code == 429
            assert response.json()["code"] == "too_many_streams"
            assert int(response.headers["Retry-After"]) > 0
        # Another user's streams are not counted against this one's.
        other, none = await open_streams(client, bearer(register_user(server)), 2)
        accepted += other
        assert not none
        # A closed stream's place is free again, whichever worker takes the next one.
        await accepted.pop(0).close()
        for _ in range(100):
            again, _ = await open_streams(client, headers, 1)
            if again:
                accepted += again
                break
            await asyncio.sleep(0.1)
        else:
            pytest.fail("a closed stream's place was never given back")
        _, still_refused = await open_streams(client, headers, 1)
        assert [r.status_code for r in still_refused] == [429]
    finally:
        for stream in accepted:
            await stream.close()


async def test_a_killed_workers_places_come_back(server: Server, client: httpx.AsyncClient) -> None:
    """A worker that dies cannot give its places back itself: they must not stay taken."""
    headers = bearer(register_user(server))
    accepted, refused = await open_streams(client, headers, MAX_STREAMS_PER_USER + 1)
    assert len(accepted) == MAX_STREAMS_PER_USER
    assert len(refused) == 1
    for pid in worker_pids(server):
        os.kill(pid, signal.SIGKILL)
    for stream in accepted:
        await asyncio.wait_for(stream.ended.wait(), 30)
        await stream.close()
    # uvicorn starts new workers; they must find every place free.
    deadline = time.monotonic() + 90
    while len(worker_pids(server)) < WORKERS or not await _answers(client):
        assert time.monotonic() < deadline, "the workers were not restarted"
        await asyncio.sleep(0.2)
    again, refused = await open_streams(client, headers, MAX_STREAMS_PER_USER + 1)
    try:
        assert len(again) == MAX_STREAMS_PER_USER
        assert [r.status_code for r in refused] == [429]
    finally:
        for stream in again:
            await stream.close()


async def _answers(client: httpx.AsyncClient) -> bool:
    try:
        return (await client.get("/api/health")).status_code == 200
    except httpx.TransportError:
        return False


def test_workers_sharing_a_directory_share_the_places(tmp_path: Path) -> None:
    """Two workers' views of one instance's directory: a place held by one is taken for the
    other, a released one is free for both, and a directory cleaned away is made again."""
    first, second = FileSlots(tmp_path, 2), FileSlots(tmp_path, 2)
    user = uuid.uuid4()
    held = [first.acquire(user), second.acquire(user)]
    assert all(held)
    assert first.acquire(user) is None
    assert second.acquire(user) is None
    assert second.acquire(uuid.uuid4()) is not None  # another user's places are their own
    release = held.pop()
    assert release is not None
    release()
    release()  # twice is no error, and frees nothing more
    again = first.acquire(user)
    assert again is not None
    assert second.acquire(user) is None
    shutil.rmtree(tmp_path)
    assert first.acquire(uuid.uuid4()) is not None
