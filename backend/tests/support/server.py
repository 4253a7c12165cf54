"""Run the real service (`python -m app run`, uvicorn) in a subprocess for the tests that need a
server: shutdown, outage, headers on the wire, the JSON access log."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from app.core.config import Settings
from tests.conftest import TEST_SECRET

BACKEND_DIR = Path(__file__).resolve().parent.parent.parent
# A server that fails exits and is reported at once; one that is slow only because the machine is
# busy (CI shares two cores with PostgreSQL and the browser) gets time: importing the app alone
# took 14 s of wall time under such load.
START_TIMEOUT_SECONDS = 90
# Environment variables the service reads as settings (case-insensitively).
SETTING_NAMES = frozenset({*Settings.model_fields, "env_file"})


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    base_url: str
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, timeout: float = 30) -> int:
        """SIGTERM, then wait for the exit code (SIGKILL after `timeout`)."""
        if self.process.poll() is None:
            self.process.terminate()
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()


def server_env(database_url: str, port: int, **settings: str) -> dict[str, str]:
    """The environment of a server on 127.0.0.1:`port`: test-friendly defaults, then `settings`
    (upper-cased names, as the service reads them). Nothing comes from the developer's own
    configuration: their environment's setting variables are left out, and ENV_FILE= turns
    off the settings files (the repository root's `.env` above all)."""
    inherited = {
        name: value for name, value in os.environ.items() if name.lower() not in SETTING_NAMES
    }
    env = {
        **inherited,
        "ENV_FILE": "",
        "DATABASE_URL": database_url,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "JWT_SECRET": TEST_SECRET,
        "BCRYPT_ROUNDS": "4",
        "LOGIN_RATE_LIMIT": "1000/second",
        "REGISTER_RATE_LIMIT": "1000/second",
        "LOG_LEVEL": "warning",
    }
    env.update({name.upper(): value for name, value in settings.items()})
    return env


def start_server(env: dict[str, str], log_path: Path, *, backend: Path = BACKEND_DIR) -> Server:
    """Start `python -m app run` (the `app` package in `backend`) and wait until /api/health
    answers (any status)."""
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "app", "run"],
            cwd=backend,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = Server(process, f"http://127.0.0.1:{env['PORT']}", log_path)
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}:\n{server.log()}")
        try:
            httpx.get(f"{server.base_url}/api/health", timeout=1)
            return server
        except httpx.TransportError:
            time.sleep(0.05)
    server.stop()
    raise RuntimeError(
        f"the server did not answer within {START_TIMEOUT_SECONDS}s:\n{server.log()}"
    )


@contextmanager
def running_server(
    env: dict[str, str], log_path: Path, *, backend: Path = BACKEND_DIR
) -> Iterator[Server]:
    server = start_server(env, log_path, backend=backend)
    try:
        yield server
    finally:
        server.stop()
