"""Servers: start one (the service or the reference app) and wait until it listens, stop it,
find its worker processes, their memory and the client connections each holds."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from common import BENCH, DATABASE_URL, RESULTS, WORKERS, fail
from seed import asyncpg_dsn


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    name: str
    process: subprocess.Popen[bytes]
    port: int
    log_path: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def workers(self) -> list[int]:
        """Worker processes: the serve process's children started by multiprocessing (spawn)."""
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
                ppid = int(stat.rsplit(")", 1)[1].split()[1])
                cmdline = (entry / "cmdline").read_bytes()
            except (OSError, IndexError, ValueError):
                continue
            if ppid == self.process.pid and b"spawn_main" in cmdline:
                found.append(int(entry.name))
        return sorted(found) or [self.process.pid]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def worker_connections(server: Server) -> list[int]:
    """Established client connections each worker holds (they are spread by the kernel's accept)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] == "01" and int(fields[1].rsplit(":", 1)[1], 16) == server.port:
                inodes.add(f"socket:[{fields[9]}]")
    counts = []
    for pid in server.workers():
        count = 0
        try:
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                try:
                    count += os.readlink(fd) in inodes
                except OSError:
                    continue
        except OSError:
            pass
        counts.append(count)
    return counts


def memory_kb(pid: int) -> dict[str, int]:
    values = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                values[key] = int(rest.split()[0])
    except OSError:
        pass
    return values


def start_server(
    name: str, command: list[str], cwd: Path, env: dict[str, str], port: int, workers: int = WORKERS
) -> Server:
    log_path = RESULTS / f"{name}.log"
    log = log_path.open("wb")
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    server = Server(name, process, port, log_path)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            fail(
                f"{name} exited with {process.returncode}; see {log_path}:\n"
                + log_path.read_text(errors="replace")[-3000:]
            )
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                pass
            if len(server.workers()) >= workers or workers == 1:
                time.sleep(1.0)  # let every worker finish its start-up
                return server
        except OSError:
            pass
        time.sleep(0.2)
    server.stop()
    fail(f"{name} did not start listening on port {port} within 90 s; see {log_path}")
    raise AssertionError


def http(method: str, url: str, *, token: str | None = None, body: Any = None) -> tuple[int, dict[str, str], Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            raw = response.read()
            return response.status, dict(response.headers), json.loads(raw) if raw else None
    except urllib.error.HTTPError as error:
        raw = error.read()
        return error.code, dict(error.headers), raw.decode(errors="replace")


def start_reference(settings: Any) -> Server:
    """bench/reference_app.py on a free port, with the service's worker count and pool size."""
    port = free_port()
    env = os.environ | {
        "REF_DATABASE_URL": asyncpg_dsn(DATABASE_URL),
        "REF_JWT_SECRET": settings.jwt_secret,
        "REF_PORT": str(port),
        "WORKERS": str(WORKERS),
        "REF_POOL_SIZE": str(settings.db_pool_size + settings.db_max_overflow),
    }
    return start_server("reference", [sys.executable, str(BENCH / "reference_app.py")], BENCH, env, port)


def compare_lists(app: Server, reference: Server, token: str) -> str:
    """What the reference's list returns, next to the service's, for one user: a sentence."""
    app_status, _, ours = http("GET", app.base + "/api/tasks", token=token)
    ref_status, _, theirs = http("GET", reference.base + "/api/tasks", token=token)
    if app_status != 200 or ref_status != 200:
        fail(f"comparing the lists: the service answered {app_status}, the reference {ref_status}")
    if [t["id"] for t in ours] != [t["id"] for t in theirs]:
        return f"the reference returns other tasks than the list ({len(theirs)} vs {len(ours)}): check its table"
    only_ref = sorted({k for t in theirs for k in t} - {k for t in ours for k in t})
    only_app = sorted({k for t in ours for k in t} - {k for t in theirs for k in t})
    differ = sorted({k for a, b in zip(ours, theirs, strict=True) for k in a.keys() & b.keys() if a[k] != b[k]})
    sentence = f"the reference returns the same {len(ours)} tasks in the same order"
    if not (only_ref or only_app or differ):
        return sentence + ", member for member"
    parts = [
        f"members only the reference has: {', '.join(only_ref)}" if only_ref else "",
        f"members only the list has: {', '.join(only_app)}" if only_app else "",
        f"members whose values differ: {', '.join(differ)}" if differ else "",
    ]
    return sentence + "; " + "; ".join(p for p in parts if p)
