"""OpenTelemetry tracing: with OTEL_EXPORTER_OTLP_ENDPOINT set, a server span per request,
named by route template, continuing the caller's W3C `traceparent`, its trace id in the JSON
log lines; unset, nothing of OpenTelemetry is imported."""

import json
import logging
import subprocess
import sys
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.logs import JsonFormatter
from app.main import create_app
from tests.conftest import bearer, make_client, make_settings, register
from tests.support.server import BACKEND_DIR

pytestmark = pytest.mark.anyio

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_SPAN_ID = "00f067aa0ba902b7"


@pytest.fixture
def exporter() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    yield exporter
    exporter.clear()


@pytest.fixture
async def traced(database_url: str, engine: AsyncEngine, exporter: InMemorySpanExporter) -> Any:
    settings = make_settings(database_url, otel_exporter_otlp_endpoint="http://127.0.0.1:9")
    app = create_app(settings, engine=engine, span_exporter=exporter)
    yield app
    app.state.tracer_provider.shutdown()
    logging.setLogRecordFactory(logging.LogRecord)


def finished(app: Any, exporter: InMemorySpanExporter) -> list[Any]:
    app.state.tracer_provider.force_flush()
    return list(exporter.get_finished_spans())


async def test_a_request_continues_the_callers_trace_and_is_named_by_its_route(
    traced: Any, exporter: InMemorySpanExporter, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="app.access")
    async with make_client(traced) as client:
        headers = bearer(await register(client))
        finished(traced, exporter)
        exporter.clear()
        caplog.clear()
        missing = uuid.uuid4()
        traceparent = f"00-{TRACE_ID}-{PARENT_SPAN_ID}-01"
        response = await client.get(
            f"/api/tasks/{missing}", headers=headers | {"traceparent": traceparent}
        )
        fresh = await client.get("/api/health/live")
    assert response.status_code == 404
    assert fresh.status_code == 200

    continued, new = finished(traced, exporter)
    assert format(continued.context.trace_id, "032x") == TRACE_ID
    assert format(continued.parent.span_id, "016x") == PARENT_SPAN_ID
    assert continued.name == "GET /api/tasks/{task_id}"
    assert continued.kind.name == "SERVER"
    assert continued.attributes["http.route"] == "/api/tasks/{task_id}"
    assert continued.attributes["http.response.status_code"] == 404
    assert continued.attributes["http.request.method"] == "GET"
    # Without a traceparent: a trace of its own.
    assert new.parent is None
    assert format(new.context.trace_id, "032x") != TRACE_ID
    assert new.name == "GET /api/health/live"

    # The access log lines carry their request's trace id.
    lines = [
        json.loads(JsonFormatter().format(r)) for r in caplog.records if r.name == "app.access"
    ]
    assert [line.get("trace_id") for line in lines] == [
        TRACE_ID,
        format(new.context.trace_id, "032x"),
    ]


async def test_a_server_error_marks_the_span_as_an_error(
    traced: Any, exporter: InMemorySpanExporter
) -> None:
    @traced.get("/boom")
    async def boom() -> None:
        raise RuntimeError("boom")

    async with make_client(traced) as client:
        response = await client.get("/boom")
    assert response.status_code == 500
    (span,) = finished(traced, exporter)
    assert span.status.status_code.name == "ERROR"
    assert span.attributes["http.response.status_code"] == 500


def test_without_an_endpoint_no_tracing_is_imported_or_installed(tmp_path: Any) -> None:
    """In a fresh interpreter: build the app, serve requests, log JSON lines. The OpenTelemetry
    *API* is always loaded (FastAPI imports it, and redis-py part of the SDK's metrics when the
    SDK is installed); the tracing SDK, the exporter and our tracing module must not be, and
    no tracer provider may be installed (FastAPI's own telemetry then stays off)."""
    program = f"""
import asyncio, sys
import httpx
from app.core.config import Settings
from app.main import create_app

settings = Settings(database_url="sqlite:///{tmp_path / "t.db"}", jwt_secret="x" * 40,
                    log_format="json", _env_file=None)
app = create_app(settings)

async def main():
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            assert (await client.get("/api/health/live")).status_code == 200
            assert (await client.get("/metrics")).status_code == 200

asyncio.run(main())
from opentelemetry import trace
unwanted = ("opentelemetry.sdk.trace", "opentelemetry.exporter", "app.core.tracing")
loaded = sorted(name for name in sys.modules if name.startswith(unwanted))
print("loaded:", loaded)
print("provider:", type(trace.get_tracer_provider()).__name__)
print("native:", app._native_telemetry.enabled())
"""
    result = subprocess.run(
        [sys.executable, "-c", program],
        cwd=BACKEND_DIR,
        capture_output=True,
        text=True,
        timeout=120,
        env={"ENV_FILE": "", "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "loaded: []" in result.stdout
    assert "provider: ProxyTracerProvider" in result.stdout
    assert "native: False" in result.stdout
    assert '"trace_id"' not in result.stderr
    assert "http.route" not in result.stderr
