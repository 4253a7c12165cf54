"""Behind PgBouncer in transaction mode (how Neon's `-pooler` hosts work) the service connects
and answers: no startup parameter PgBouncer refuses, no prepared statement that one client's
transaction leaves on a server connection another client then gets."""

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from app.core.database import DRIVER_READS, create_engine, parse_database_url
from app.main import create_app
from app.models import Base
from tests.conftest import TEST_DATABASE_URL, bearer, make_client, make_settings, register

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("needs_postgres")]

PGBOUNCER = shutil.which("pgbouncer") or next(
    (p for p in ("/usr/sbin/pgbouncer", "/usr/bin/pgbouncer") if Path(p).exists()), None
)
# PgBouncer 1.24 (max_prepared_statements, as Neon's pooler) from Debian 13, in a root of its own
# that .ci/run makes (mmdebstrap) and keeps: Debian 12, this machine's, has only 1.18.
PGBOUNCER_ROOT = Path(
    os.environ.get("PGBOUNCER_ROOT")
    or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "todo-pgbouncer/trixie"
)


@dataclass(frozen=True)
class Pooler:
    """A PgBouncer setup: Debian 12's 1.18, which cannot keep prepared statements, or Debian
    13's 1.24 with max_prepared_statements (Neon's), and the app's matching setting."""

    name: str
    root: Path | None  # run chrooted there
    prepared_statements: bool

    def missing(self) -> str | None:
        if self.root is None:
            return None if PGBOUNCER else "PgBouncer is not installed (apt-get install pgbouncer)"
        if not (self.root / "usr/sbin/pgbouncer").exists():
            return f"no PgBouncer 1.24 root at {self.root} (.ci/run makes it)"
        if os.geteuid() != 0:
            return "PgBouncer 1.24 runs chrooted, which needs root"
        return None


POOLERS = [
    Pooler("pgbouncer-1.18", None, prepared_statements=False),
    Pooler("pgbouncer-1.24", PGBOUNCER_ROOT, prepared_statements=True),
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
async def pooled_database() -> AsyncIterator[tuple[str, str]]:
    """A database of its own with the schema (PgBouncer picks databases by name, and refuses a
    `search_path` in the startup packet, so no per-test schema here): (direct URL, name)."""
    assert TEST_DATABASE_URL is not None
    name = f"pooler_{uuid.uuid4().hex[:12]}"
    admin = create_async_engine(
        parse_database_url(TEST_DATABASE_URL).url, isolation_level="AUTOCOMMIT"
    )
    async with admin.connect() as connection:
        await connection.execute(text(f'CREATE DATABASE "{name}"'))
    direct = TEST_DATABASE_URL.rsplit("/", 1)[0] + "/" + name
    engine = create_engine(make_settings(direct))
    async with engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    await engine.dispose()
    try:
        yield direct, name
    finally:
        async with admin.connect() as connection:
            await connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        await admin.dispose()


@pytest.fixture(params=POOLERS, ids=lambda pooler: pooler.name)
def pooler(request: pytest.FixtureRequest) -> Pooler:
    chosen: Pooler = request.param
    problem = chosen.missing()
    if problem is not None:
        if os.environ.get("CI"):  # .ci/run provides both: there a skip would hide the test
            pytest.fail(problem)
        pytest.skip(problem)
    return chosen


@pytest.fixture
def pgbouncer(tmp_path: Path, pooler: Pooler) -> Iterator[int]:
    """PgBouncer in transaction mode with 2 server connections, its stock startup-parameter
    rules (and, for 1.24, max_prepared_statements), trusting local clients: its port."""
    assert TEST_DATABASE_URL is not None
    server = urlsplit(TEST_DATABASE_URL)
    port = _free_port()
    user = server.username or "postgres"
    # Chrooted, its files must be inside the root; it sees them at `seen`.
    seen = Path("/tmp") / f"pgbouncer-{uuid.uuid4().hex[:12]}"
    directory = (pooler.root / seen.relative_to("/")) if pooler.root else tmp_path / "pgbouncer"
    directory.mkdir(parents=True)
    if pooler.root is None:
        seen = directory
    (directory / "users.txt").write_text(f'"{user}" ""\n')
    config = directory / "pgbouncer.ini"
    config.write_text(
        f"[databases]\n* = host={server.hostname} port={server.port or 5432}\n"
        f"[pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n"
        f"auth_type = trust\nauth_file = {seen / 'users.txt'}\npool_mode = transaction\n"
        "default_pool_size = 2\nignore_startup_parameters = extra_float_digits\n"
        + ("max_prepared_statements = 200\n" if pooler.prepared_statements else "")
    )
    command = [PGBOUNCER or "pgbouncer", str(seen / "pgbouncer.ini")]
    if pooler.root is not None:
        command = ["chroot", str(pooler.root), "pgbouncer", str(seen / "pgbouncer.ini")]
    if os.geteuid() == 0:  # PgBouncer will not run as root
        for path in (tmp_path, directory, config, directory / "users.txt"):
            path.chmod(0o755)
        command[-1:-1] = ["-u", "postgres"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                assert process.poll() is None, process.stdout and process.stdout.read()
                assert time.monotonic() < deadline, "PgBouncer did not start"
                time.sleep(0.05)
        yield port
    finally:
        # SIGINT: shut down once transactions finish, in 1.18 as in 1.24 (where SIGTERM waits
        # for every client to leave).
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if pooler.root is not None:
            shutil.rmtree(directory, ignore_errors=True)


async def test_the_service_works_through_pgbouncer_in_transaction_mode(
    pooled_database: tuple[str, str], pgbouncer: int, pooler: Pooler
) -> None:
    direct, name = pooled_database
    server = urlsplit(direct)
    pooled_url = f"postgresql://{server.username or 'postgres'}@127.0.0.1:{pgbouncer}/{name}"
    # Ten app connections share PgBouncer's two server connections.
    settings = make_settings(
        pooled_url,
        db_pgbouncer=True,
        db_pool_size=10,
        db_pooler_prepared_statements=pooler.prepared_statements,
        # Many requests queue for PgBouncer's two server connections: on a busy machine longer
        # than the default 5 s. What is tested is their answers, not their speed.
        db_pool_timeout=120,
    )
    engine = create_engine(settings)
    app = create_app(settings, engine=engine)
    # Where the pooler keeps prepared statements, the hot reads take the fast path as on a
    # direct connection (app.core.fast_reads); else they go through SQLAlchemy in transactions.
    driver_reads = app.state.database.reader.get_execution_options()[DRIVER_READS]
    assert driver_reads == pooler.prepared_statements
    try:
        async with make_client(app) as client:
            users = [bearer(await register(client)) for _ in range(3)]
            for n, headers in enumerate(users):
                for i in range(3):
                    created = await client.post(
                        "/api/tasks", json={"title": f"user {n} task {i}"}, headers=headers
                    )
                    assert created.status_code == 201, created.text

            async def read(headers: dict[str, str]) -> list[Any]:
                listed = await client.get("/api/tasks?search=task", headers=headers)
                synced = await client.get("/api/tasks/sync", headers=headers)
                me = await client.get("/api/auth/me", headers=headers)
                assert [r.status_code for r in (listed, synced, me)] == [200, 200, 200]
                assert listed.headers["X-Total-Count"] == "3"
                return [listed.json(), synced.json()["tasks"], me.json()]

            # The same statements again and again from many clients at once: each prepared
            # statement lives only in its own transaction, whichever server connection it got.
            answers = await asyncio.gather(*(read(users[i % 3]) for i in range(60)))
            for i, (listed, synced, me) in enumerate(answers):
                assert {t["title"] for t in listed} == {f"user {i % 3} task {j}" for j in range(3)}
                assert {t["id"] for t in synced} == {t["id"] for t in listed}
                assert me["id"] == listed[0]["user_id"]
    finally:
        await engine.dispose()


async def test_through_pgbouncer_a_transaction_is_one_on_the_server(
    pooled_database: tuple[str, str], pgbouncer: int, pooler: Pooler
) -> None:
    """PgBouncer sends `SET` for every startup parameter a client asked for in a spelling other
    than the server's, before every transaction it lends a connection for: asyncpg's
    client_encoding 'utf-8' once doubled the server's transactions."""
    assert TEST_DATABASE_URL is not None
    direct, name = pooled_database
    server = urlsplit(direct)
    pooled_url = f"postgresql://{server.username or 'postgres'}@127.0.0.1:{pgbouncer}/{name}"
    settings = make_settings(
        pooled_url,
        db_pgbouncer=True,
        db_pool_size=1,
        db_pooler_prepared_statements=pooler.prepared_statements,
        # Many requests queue for PgBouncer's two server connections: on a busy machine longer
        # than the default 5 s. What is tested is their answers, not their speed.
        db_pool_timeout=120,
    )
    engine = create_engine(settings)
    # Watching from another database, so that watching is not counted.
    observer = create_async_engine(
        parse_database_url(TEST_DATABASE_URL).url, isolation_level="AUTOCOMMIT"
    )
    count = text(
        "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = :name"
    ).bindparams(name=name)

    async def transactions(n: int) -> None:
        for _ in range(n):
            async with engine.begin() as connection:
                await connection.execute(text("SELECT 1"))

    async def reported_count() -> int:
        """The database's transactions so far. A server backend reports its counts when it
        ends (while it lives, up to 10 s after it goes idle): so PgBouncer's server
        connections are ended first (it opens new ones when next asked)."""
        end = text(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :name"
        ).bindparams(name=name)
        alive = text("SELECT count(*) FROM pg_stat_activity WHERE datname = :name").bindparams(
            name=name
        )
        async with observer.connect() as connection:
            await connection.execute(end)
            for _ in range(200):
                if not await connection.scalar(alive):
                    return int(await connection.scalar(count))
                await asyncio.sleep(0.05)
        raise AssertionError("PgBouncer's server connections did not end")

    try:
        await transactions(1)  # connected
        before = await reported_count()
        await transactions(20)
        # About 20, not 40: no SET of PgBouncer's before each (it may still set up each
        # server connection it opened anew with one).
        assert 20 <= await reported_count() - before < 25
    finally:
        await engine.dispose()
        await observer.dispose()
