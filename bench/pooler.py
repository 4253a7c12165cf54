"""Issue 17, part 4: the list scenario through PgBouncer in transaction mode, the way Neon's
`-pooler` hosts work: the app connects to PgBouncer, which lends a server connection for each
transaction only. Our own PgBouncer from a temporary config (never the system service)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from common import BACKEND, CONNECTIONS, DATABASE_URL, DURATION, RESULTS, WORKERS, env_int, fail, say
from load import Load, Result
from report import print_table, print_usage
from server import free_port, http, start_server

PGBOUNCER_PORT = env_int("BENCH_PGBOUNCER_PORT", 0)
# PgBouncer 1.24 from a Debian 13 root (.ci/run makes it with mmdebstrap and keeps it there):
# with max_prepared_statements, as Neon's pooler. Without that root, Debian 12's 1.18, which
# cannot keep prepared statements (the app then runs DB_POOLER_PREPARED_STATEMENTS=false).
PGBOUNCER_ROOT = Path(
    os.environ.get("PGBOUNCER_ROOT")
    or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "todo-pgbouncer/trixie"
)
MAX_PREPARED_STATEMENTS = 200


@dataclass
class PgBouncer:
    process: subprocess.Popen[bytes]
    port: int
    directory: Path
    version: str
    prepared_statements: bool  # max_prepared_statements is on

    def stop(self) -> None:
        if self.process.poll() is None:
            # SIGINT: shut down once transactions finish, in 1.18 as in 1.24 (where SIGTERM
            # waits for every client to leave).
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.directory, ignore_errors=True)


def find_pgbouncer() -> str | None:
    return shutil.which("pgbouncer") or next(
        (p for p in ("/usr/sbin/pgbouncer", "/usr/bin/pgbouncer") if Path(p).exists()), None
    )


def start_pgbouncer(server_url: str, pool_size: int) -> PgBouncer:
    """PgBouncer in transaction mode in front of `server_url`'s PostgreSQL, with `pool_size`
    server connections per database (what the app would hold without it), trusting local
    clients as the bench's PostgreSQL does: 1.24 with max_prepared_statements from its root
    when there is one (and we are root, to chroot), else the system's."""
    chrooted = os.geteuid() == 0 and (PGBOUNCER_ROOT / "usr/sbin/pgbouncer").exists()
    binary = "pgbouncer" if chrooted else find_pgbouncer()
    if binary is None:
        fail(
            "the pooler scenario needs PgBouncer: `apt-get install -y pgbouncer` (or leave `pooler` out of BENCH_ONLY)"
        )
    parts = urlsplit(server_url)
    port = PGBOUNCER_PORT or free_port()
    directory = Path(tempfile.mkdtemp(prefix="bench-pgbouncer-", dir=PGBOUNCER_ROOT / "tmp" if chrooted else None))
    directory.chmod(0o755)
    seen = Path("/") / directory.relative_to(PGBOUNCER_ROOT) if chrooted else directory
    user = parts.username or "postgres"
    (directory / "userlist.txt").write_text(f'"{user}" ""\n')
    (directory / "pgbouncer.ini").write_text(
        "\n".join(
            [
                "[databases]",
                f"* = host={parts.hostname or '127.0.0.1'} port={parts.port or 5432}",
                "[pgbouncer]",
                "listen_addr = 127.0.0.1",
                f"listen_port = {port}",
                "unix_socket_dir =",
                "auth_type = trust",
                f"auth_file = {seen / 'userlist.txt'}",
                "pool_mode = transaction",
                f"default_pool_size = {pool_size}",
                "max_client_conn = 2000",
                # PgBouncer's own default set of startup parameters, nothing more: the app must
                # not rely on a pooler that ignores others (it sends none behind one).
                "ignore_startup_parameters = extra_float_digits",
                f"max_prepared_statements = {MAX_PREPARED_STATEMENTS}" if chrooted else "",
                "",
            ]
        )
    )
    for path in directory.iterdir():
        path.chmod(0o644)
    command = [binary, str(seen / "pgbouncer.ini")]
    if os.geteuid() == 0:  # PgBouncer refuses to run as root
        command = [binary, "-u", "postgres", str(seen / "pgbouncer.ini")]
    if chrooted:
        command = ["chroot", str(PGBOUNCER_ROOT), *command]
    version_run = subprocess.run([*command[:-1], "--version"], capture_output=True, text=True, check=False)
    version = version_run.stdout.split("\n")[0]
    log = (RESULTS / "pgbouncer.log").open("wb")
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    bouncer = PgBouncer(process, port, directory, version.strip() or "PgBouncer", chrooted)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return bouncer
        except OSError:
            time.sleep(0.1)
    bouncer.stop()
    fail(f"PgBouncer did not start on port {port}; see {RESULTS / 'pgbouncer.log'}")
    raise AssertionError


def through(url: str, port: int) -> str:
    """`url` with PgBouncer's port in place of PostgreSQL's."""
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)
    host = netloc[-1].rsplit(":", 1)[0]
    new_netloc = (netloc[0] + "@" if len(netloc) == 2 else "") + f"{host}:{port}"
    return urlunsplit((parts.scheme, new_netloc, parts.path, parts.query, parts.fragment))


def run_pooler(load: Load, server_env: dict[str, str], settings: Any, direct: Result | None) -> Result | None:
    """The list at CONNECTIONS connections through PgBouncer (transaction mode), beside the direct
    run `direct`: errors, and the throughput ratio."""
    say("== through a pooler: PgBouncer in transaction mode (as Neon's -pooler hosts)")
    pool_size = WORKERS * (settings.db_pool_size + settings.db_max_overflow)
    bouncer = start_pgbouncer(DATABASE_URL, pool_size)
    port = free_port()
    env = server_env | {
        "DATABASE_URL": through(DATABASE_URL, bouncer.port),
        "DB_PGBOUNCER": "true",
        "DB_POOLER_PREPARED_STATEMENTS": "true" if bouncer.prepared_statements else "false",
        "PORT": str(port),
        "MIGRATE_ON_START": "false",
    }
    say(
        f"  {bouncer.version} on {bouncer.port} (pool_mode=transaction, default_pool_size={pool_size}, "
        f"max_prepared_statements={MAX_PREPARED_STATEMENTS if bouncer.prepared_statements else 0}) -> PostgreSQL; "
        f"the app with DB_PGBOUNCER=true "
        f"DB_POOLER_PREPARED_STATEMENTS={env['DB_POOLER_PREPARED_STATEMENTS']} on port {port}"
    )
    app = start_server("server-pooler", [sys.executable, "-m", "app", "serve"], BACKEND, env, port)
    try:
        status, _, body = http("GET", app.base + "/api/tasks", token=load.token(0, 60))
        if status != 200:
            say(f"  the list through PgBouncer answered {status}: {str(body)[:300]}")
        result = load.run("list through PgBouncer (transaction)", app, "list", CONNECTIONS, DURATION)
    finally:
        app.stop()
        bouncer.stop()
    print_table([direct, result] if direct else [result])
    print_usage([direct, result] if direct else [result])
    errors = result.socket_errors + result.non_2xx
    ratio = (
        f"{100 * result.rps / direct.rps:.0f} % of the direct list ({result.rps:.0f} vs {direct.rps:.0f} req/s)"
        if direct
        else "no direct list in this run (BENCH_ONLY)"
    )
    say(f"  through {bouncer.version}: {result.rps:.0f} req/s, p99 {result.ms('p99'):.1f} ms, {errors} errors; {ratio}")
    return result
