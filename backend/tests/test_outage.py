"""Database outage: the real server under steady load, on a throwaway PostgreSQL cluster that is
killed and started again. The test brings its own cluster, so SQLite and PostgreSQL suite runs
run it the same way.

While the database is gone every request is answered at once with 503 `database_unavailable`
and `Retry-After` (never a 500, never a hang), and health says 503; once it is back the service
recovers by itself, and every task the writer got a 201 for is stored exactly once. And when the
server ends pooled connections (failover, Neon suspending), no request sees a 500."""

import glob
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.database import create_engine
from app.main import create_app
from tests.conftest import bearer, make_client, make_settings
from tests.conftest import register as register_user
from tests.support.server import free_port, running_server, server_env

pytestmark = pytest.mark.anyio

STEADY_SECONDS = 1.0
OUTAGE_SECONDS = 3.0
# From the database going away to every request being answered 503, at most.
DETECTION_SECONDS = 2.0
# From the database being back to every request succeeding again, at most.
RECOVERY_SECONDS = 5.0
# No request may take longer than this, outage or not.
SLOWEST_ANSWER_SECONDS = 5.0
READERS = 3


def postgres_bindir() -> Path | None:
    """Where initdb and pg_ctl are: PG_BINDIR, pg_config, the PATH, or Debian's layout."""
    candidates = [os.environ.get("PG_BINDIR", "")]
    if pg_config := shutil.which("pg_config"):
        bindir = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True)
        candidates.append(bindir.stdout.strip())
    if initdb := shutil.which("initdb"):
        candidates.append(str(Path(initdb).parent))
    debian = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[4]))
    candidates.extend(reversed(debian))
    for candidate in filter(None, candidates):
        if (Path(candidate) / "initdb").exists() and (Path(candidate) / "pg_ctl").exists():
            return Path(candidate)
    return None


@dataclass
class Cluster:
    """A PostgreSQL cluster of our own in a temporary directory, on a free port. PostgreSQL
    refuses to run as root, so as root (CI) it runs as the `postgres` user."""

    bindir: Path
    root: Path
    port: int = field(default_factory=free_port)

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def command(self, tool: str, *args: str) -> list[str]:
        as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        return [*as_postgres, str(self.bindir / tool), *args]

    def initdb_command(self) -> list[str]:
        data = f"{self.root}/data"
        return self.command("initdb", "-D", data, "-U", "postgres", "--auth=trust", "--no-sync")

    def start_command(self) -> list[str]:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        log = f"{self.root}/log"
        return self.command(
            "pg_ctl", "start", "-w", "-D", f"{self.root}/data", "-l", log, "-o", options
        )

    def stop_command(self) -> list[str]:
        # Immediate: no goodbye to the clients, as when the server or its network dies.
        return self.command("pg_ctl", "stop", "-w", "-m", "immediate", "-D", f"{self.root}/data")


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    bindir = postgres_bindir()
    if bindir is None:
        if os.environ.get("CI"):
            pytest.fail("CI needs PostgreSQL's initdb and pg_ctl for the outage test; none found")
        pytest.skip("no PostgreSQL binaries (initdb, pg_ctl) found; set PG_BINDIR to run this")
    # Not under pytest's tmp_path: its parent is private to root, and the cluster runs as postgres.
    root = Path(tempfile.mkdtemp(prefix="todo-outage-"))
    if os.geteuid() == 0:
        shutil.chown(root, user="postgres")
    cluster = Cluster(bindir, root)
    try:
        subprocess.run(cluster.initdb_command(), check=True, capture_output=True)
        subprocess.run(cluster.start_command(), check=True, capture_output=True)
        yield cluster
    finally:
        subprocess.run(cluster.stop_command(), capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


@dataclass(frozen=True)
class Answer:
    who: str  # "reader", "writer" or "health"
    started: float
    finished: float
    status: int  # 0: no HTTP answer at all
    code: str | None = None
    retry_after: str | None = None
    title: str | None = None  # what the writer tried to create

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


async def ask(
    client: httpx.AsyncClient,
    who: str,
    method: str,
    url: str,
    headers: dict[str, str] | None = None,
    body: dict[str, Any] | None = None,
) -> Answer:
    started = time.monotonic()
    try:
        response = await client.request(method, url, headers=headers, json=body)
    except httpx.HTTPError:
        return Answer(who, started, time.monotonic(), 0)
    payload = response.json() if response.content else None
    return Answer(
        who,
        started,
        time.monotonic(),
        response.status_code,
        payload.get("code") if isinstance(payload, dict) else None,
        response.headers.get("Retry-After"),
        body["title"] if body else None,
    )


@dataclass
class Load:
    writer_headers: dict[str, str]
    answers: list[Answer] = field(default_factory=list)
    # When the stop command was run and when it returned; the same for the start command.
    stopping_at: float = 0.0
    down_at: float = 0.0
    starting_at: float = 0.0
    up_at: float = 0.0


async def test_outage_is_503_then_recovers_without_losing_acknowledged_writes(
    cluster: Cluster, tmp_path: Path
) -> None:
    env = server_env(cluster.url, free_port())
    with running_server(env, tmp_path / "server.log") as server:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as client:
            load = await load_through_an_outage(client, cluster)
            stored = await all_titles(client, load.writer_headers)
        log = server.log()

    assert_answers_through_the_outage(load, log)
    acknowledged = [a.title for a in load.answers if a.who == "writer" and a.status == 201]
    assert acknowledged, "the writer never got a 201"
    lost = [title for title in acknowledged if title not in stored]
    assert not lost, f"{len(lost)} of {len(acknowledged)} acknowledged tasks are missing"
    assert len(stored) == len(set(stored)), "a task was stored twice"


async def load_through_an_outage(client: httpx.AsyncClient, cluster: Cluster) -> Load:
    """Readers list, a writer creates, a poller asks for health, all the time; meanwhile the
    database is stopped for OUTAGE_SECONDS and started again."""

    async def register() -> dict[str, str]:
        body = {"email": f"{uuid.uuid4().hex}@example.com", "name": "Load", "password": "x" * 12}
        response = await client.post("/api/auth/register", json=body)
        assert response.status_code == 201, response.text
        return bearer(response.json())

    load = Load(await register())
    stop = anyio.Event()

    async def reader(headers: dict[str, str]) -> None:
        while not stop.is_set():
            load.answers.append(await ask(client, "reader", "GET", "/api/tasks", headers))

    async def writer() -> None:
        while not stop.is_set():
            body = {"title": f"task {uuid.uuid4().hex}"}
            answer = await ask(client, "writer", "POST", "/api/tasks", load.writer_headers, body)
            load.answers.append(answer)

    async def health() -> None:
        while not stop.is_set():
            load.answers.append(await ask(client, "health", "GET", "/api/health"))
            await anyio.sleep(0.1)

    async with anyio.create_task_group() as group:
        for _ in range(READERS):
            group.start_soon(reader, await register())
        group.start_soon(writer)
        group.start_soon(health)

        await anyio.sleep(STEADY_SECONDS)
        load.stopping_at = time.monotonic()
        await anyio.run_process(cluster.stop_command())
        load.down_at = time.monotonic()
        await anyio.sleep(OUTAGE_SECONDS)
        load.starting_at = time.monotonic()
        await anyio.run_process(cluster.start_command())
        load.up_at = time.monotonic()
        # Go on until a full second of nothing but successes, or well past the deadline.
        while time.monotonic() < load.up_at + RECOVERY_SECONDS + 2:
            await anyio.sleep(0.2)
            since = max(time.monotonic() - 1, load.up_at)
            recent = [a for a in load.answers if a.started > since]
            if recent and all(a.ok for a in recent):
                break
        stop.set()
    return load


async def all_titles(client: httpx.AsyncClient, headers: dict[str, str]) -> list[str]:
    titles: list[str] = []
    for page in range(1, 1000):
        params = {"limit": 100, "page": page}
        response = await client.get("/api/tasks", params=params, headers=headers)
        assert response.status_code == 200, response.text
        titles += [task["title"] for task in response.json()]
        if len(titles) >= int(response.headers["X-Total-Count"]):
            break
    return titles


def assert_answers_through_the_outage(load: Load, log: str) -> None:
    answers, down_at, up_at = load.answers, load.down_at, load.up_at

    def explain(bad: list[Answer]) -> str:
        timeline = "\n".join(
            f"{a.started - down_at:+6.2f}s {a.finished - a.started:5.2f}s {a.who} {a.status}"
            for a in sorted(answers, key=lambda a: a.started)
        )
        return f"{bad[:3]}\nback up at {up_at - down_at:+.2f}s:\n{timeline}\n{log[-3000:]}"

    unanswered = [a for a in answers if a.status == 0]
    assert not unanswered, explain(unanswered)
    server_errors = [a for a in answers if a.status >= 500 and a.status != 503]
    assert not server_errors, explain(server_errors)
    slow = [a for a in answers if a.finished - a.started > SLOWEST_ANSWER_SECONDS]
    assert not slow, explain(slow)
    unavailable = [a for a in answers if a.status == 503]
    unexplained = [a for a in unavailable if a.code != "database_unavailable" or not a.retry_after]
    assert not unexplained, explain(unexplained)

    before = [a for a in answers if a.finished < load.stopping_at]
    assert before, "no load before the outage"
    assert all(a.ok for a in before), explain(before)

    detected = down_at + DETECTION_SECONDS
    during = [a for a in answers if detected <= a.started and a.finished < load.starting_at]
    assert {a.who for a in during} == {"reader", "writer", "health"}, explain(during)
    answered_anyway = [a for a in during if a.status != 503]
    assert not answered_anyway, explain(answered_anyway)

    failed_after = [a for a in answers if a.started >= up_at and not a.ok]
    recovered_at = max((a.finished for a in failed_after), default=up_at)
    assert recovered_at - up_at <= RECOVERY_SECONDS, explain(failed_after)
    assert any(a.who == "writer" and a.started > recovered_at for a in answers)


async def test_connections_killed_by_the_server_cost_at_most_a_503(
    is_postgres: bool, database_url: str, schema: str | None, engine: AsyncEngine
) -> None:
    """What a failover or Neon suspending its compute does: the server ends the pooled
    connections. A request that meets a dead one answers 503, never 500; the next one works."""
    if not is_postgres:
        pytest.skip("PostgreSQL only: set TEST_DATABASE_URL")
    settings = make_settings(database_url, db_pool_size=1, db_max_overflow=0)
    pooled = create_engine(settings, schema=schema)
    try:
        async with make_client(create_app(settings, engine=pooled)) as client:
            headers = bearer(await register_user(client))
            assert (await client.get("/api/auth/me", headers=headers)).status_code == 200
            async with pooled.connect() as connection:  # the pool's only connection
                pid = (await connection.execute(text("SELECT pg_backend_pid()"))).scalar_one()
            async with engine.connect() as admin:
                await admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            first = await client.get("/api/auth/me", headers=headers)
            second = await client.get("/api/auth/me", headers=headers)
    finally:
        await pooled.dispose()
    assert first.status_code in (200, 503), first.text
    if first.status_code == 503:
        assert first.json()["code"] == "database_unavailable"
        assert first.headers["Retry-After"].isdigit()
    assert second.status_code == 200, second.text
