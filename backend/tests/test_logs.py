"""The access log: exactly one line per request, whatever its fate; with LOG_FORMAT=json a JSON
object naming the method, the route template, the status, the duration, the request id and the
signed-in user."""

import json
import logging
import signal
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.config import Settings
from app.core.logs import JsonFormatter, TextFormatter
from app.main import create_app
from tests.conftest import bearer, make_client, register
from tests.support.server import free_port, running_server, server_env

pytestmark = pytest.mark.anyio

FIELDS = {"method", "path", "status", "duration_ms", "request_id", "user_id"}


def access_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    formatter = JsonFormatter()
    records = [r for r in caplog.records if r.name == "app.access"]
    lines = [formatter.format(record) for record in records]
    assert all("\n" not in line for line in lines)
    return [json.loads(line) for line in lines]


async def test_each_request_is_one_json_line_with_route_status_and_user(
    settings: Settings, engine: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="app.access")
    async with make_client(create_app(settings, engine=engine)) as client:
        auth = await register(client)
        caplog.clear()
        created = await client.post("/api/tasks", json={"title": "t"}, headers=bearer(auth))
        task_url = f"/api/tasks/{created.json()['id']}"
        read = await client.get(task_url, headers=bearer(auth) | {"X-Request-ID": "req-1"})
        anonymous = await client.get("/api/health")
    responses = [created, read, anonymous]

    lines = access_lines(caplog)
    assert len(lines) == len(responses)
    for line, response in zip(lines, responses, strict=True):
        assert set(line) >= FIELDS
        assert line["method"] == response.request.method
        assert line["status"] == response.status_code
        assert line["request_id"] == response.headers["X-Request-ID"]
        assert isinstance(line["duration_ms"], float | int)
        assert line["duration_ms"] >= 0
        assert line["level"] == "info"
        assert line["logger"] == "app.access"
    assert [line["path"] for line in lines] == ["/api/tasks", "/api/tasks/{task_id}", "/api/health"]
    assert lines[1]["request_id"] == "req-1"
    assert lines[0]["user_id"] == lines[1]["user_id"] == auth["user"]["id"]
    assert lines[2]["user_id"] is None


async def test_refused_and_failed_requests_are_logged_once_each(
    settings: Settings, engine: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(settings, engine=engine)

    @app.get("/api/crash")
    async def crash() -> None:
        raise RuntimeError("boom")

    caplog.set_level(logging.INFO, logger="app.access")
    async with make_client(app) as client:
        auth = await register(client)
        caplog.clear()
        too_large = b'{"title": "' + b"x" * (1024 * 1024) + b'"}'
        json_body = {"Content-Type": "application/json"}
        responses = [
            await client.get("/api/tasks"),  # 401
            await client.get("/api/tasks", params={"limit": 0}, headers=bearer(auth)),  # 422
            await client.get("/api/tasks/not-a-task", headers=bearer(auth)),  # 422
            await client.get("/api/nothing-here"),  # 404
            await client.delete("/api/health"),  # 405
            await client.post("/api/tasks", content=too_large, headers=bearer(auth) | json_body),
            await client.get("/api/crash"),  # 500
        ]

    lines = access_lines(caplog)
    assert [line["status"] for line in lines] == [r.status_code for r in responses]
    assert [line["status"] for line in lines] == [401, 422, 422, 404, 405, 413, 500]
    assert [line["request_id"] for line in lines] == [r.headers["X-Request-ID"] for r in responses]
    assert lines[2]["path"] == "/api/tasks/{task_id}"
    assert lines[3]["path"] == "/api/nothing-here"


async def test_a_path_cannot_forge_a_log_line(
    settings: Settings, engine: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="app.access")
    forged = "/api/x\n2026-01-01 00:00:00,000 INFO app.access: GET /api/admin 200"
    async with make_client(create_app(settings, engine=engine)) as client:
        await client.get(forged.replace("\n", "%0A").replace(" ", "%20"))
    record = next(r for r in caplog.records if r.name == "app.access")
    assert "\n" not in TextFormatter().format(record)
    assert "\n" not in JsonFormatter().format(record)


def test_the_real_server_writes_json_lines_only(tmp_path: Path) -> None:
    env = server_env(
        f"sqlite:///{tmp_path / 'todo.db'}", free_port(), log_format="json", log_level="info"
    )
    with running_server(env, tmp_path / "server.log") as server:
        body = {"email": "json@example.com", "name": "Json", "password": "x" * 12}
        auth = httpx.post(f"{server.base_url}/api/auth/register", json=body).json()
        me = httpx.get(f"{server.base_url}/api/auth/me", headers=bearer(auth))
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(timeout=20) == 0

    lines = [json.loads(line) for line in server.log().splitlines() if line.strip()]
    access = [line for line in lines if line["logger"] == "app.access"]
    # Start-up polling for /api/health, the register, then /me.
    assert [line["path"] for line in access][-2:] == ["/api/auth/register", "/api/auth/me"]
    assert access[-1]["user_id"] == auth["user"]["id"]
    assert access[-1]["request_id"] == me.headers["X-Request-ID"]
    assert set(access[-1]) >= FIELDS
    assert any(line["logger"].startswith("uvicorn") for line in lines)
