"""The servers the suite starts are configured by the suite alone: a developer's `.env` in the
repository root (or in backend/), and setting variables in their shell, change nothing."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.conftest import PASSWORD
from tests.support.server import BACKEND_DIR, free_port, running_server, server_env

# Each of these would stop the server or break it: an unreachable database, no migrations (so
# no tables), a pool of no connections (refused at start).
BROKEN_SETTINGS = "DATABASE_URL=postgresql://nobody@127.0.0.1:9/none\nMIGRATE_ON_START=false\n"
INVALID_SETTING = "DB_POOL_SIZE=0\n"


def repository_copy(root: Path) -> Path:
    """A checkout of the service under `root` (its backend/ folder returned): the service finds
    the repository root's `.env` relative to its own code, so the test cannot use the real one
    without touching the developer's file."""
    backend = root / "backend"
    skip = shutil.ignore_patterns("__pycache__")
    shutil.copytree(BACKEND_DIR / "app", backend / "app", ignore=skip)
    shutil.copytree(BACKEND_DIR / "alembic", backend / "alembic", ignore=skip)
    shutil.copy(BACKEND_DIR / "alembic.ini", backend)
    return backend


def test_a_developers_dotenv_and_shell_settings_do_not_reach_the_suites_servers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend = repository_copy(tmp_path / "repo")
    (tmp_path / "repo" / ".env").write_text(BROKEN_SETTINGS + INVALID_SETTING)
    (backend / ".env").write_text(BROKEN_SETTINGS + INVALID_SETTING)
    # The copy reads that .env like the real service would: without ENV_FILE= it refuses it.
    refused = subprocess.run(
        [sys.executable, "-c", "from app.core.config import load_settings; load_settings()"],
        cwd=backend,
        env={k: v for k, v in os.environ.items() if k != "ENV_FILE"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert refused.returncode != 0
    assert "db_pool_size" in refused.stderr

    monkeypatch.setenv("DB_POOL_SIZE", "0")  # as if exported in the developer's shell
    env = server_env(f"sqlite:///{tmp_path / 'todo.db'}", free_port())
    with running_server(env, tmp_path / "server.log", backend=backend) as server:
        health = httpx.get(f"{server.base_url}/api/health")
        registered = httpx.post(
            f"{server.base_url}/api/auth/register",
            json={"email": "env@example.com", "name": "Env", "password": PASSWORD},
        )
    assert health.json() == {"status": "ok", "database": "ok"}
    assert registered.status_code == 201, registered.text
