"""`GET /metrics` in one process: Prometheus text that prometheus_client's parser reads, the
HTTP metrics labelled by route template (never the raw path), the fast reads counted like the
other requests, and the domain metrics of API.md. (Several workers: test_metrics_workers.py.)

The registry is the process's own and outlives each test's app: tests compare before and after."""

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.config import Settings
from app.core.database import create_database
from app.main import create_app
from app.sync.hub import EventHub
from app.sync.reminders import deliver_due_reminders
from tests.conftest import bearer, make_client, make_settings, register
from tests.support.metrics import Scrape, requests_count
from tests.support.receiver import Behaviour, running_receiver

pytestmark = pytest.mark.anyio

DURATION = "http_server_request_duration_seconds"


async def scrape(client: httpx.AsyncClient) -> Scrape:
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return Scrape.parse(response.text)


async def test_requests_are_counted_by_route_template_never_the_raw_path(
    client: httpx.AsyncClient, auth_headers: dict[str, str]
) -> None:
    before = await scrape(client)
    missing = [uuid.uuid4() for _ in range(3)]
    for task_id in missing:
        response = await client.get(f"/api/tasks/{task_id}", headers=auth_headers)
        assert response.status_code == 404
    assert (await client.get("/api/no/such/route/abc")).status_code == 404
    assert (await client.post("/api/tasks", json={"title": "x"})).status_code == 401
    after = await scrape(client)

    route = "/api/tasks/{task_id}"
    assert requests_count(after, "GET", route, 404) - requests_count(before, "GET", route, 404) == 3
    assert (
        requests_count(after, "GET", "unmatched", 404)
        - requests_count(before, "GET", "unmatched", 404)
        == 1
    )
    assert (
        requests_count(after, "POST", "/api/tasks", 401)
        - requests_count(before, "POST", "/api/tasks", 401)
        == 1
    )
    routes = after.label_values(f"{DURATION}_count", "http_route")
    assert not any(str(task_id) in route for task_id in missing for route in routes)
    assert "/api/no/such/route/abc" not in routes
    # OpenTelemetry's names, type and bucket boundaries (seconds).
    assert after.types[DURATION] == "histogram"
    buckets = {
        dict(labels)["le"]
        for (name, labels) in after.samples
        if name == f"{DURATION}_bucket" and dict(labels)["http_route"] == route
    }
    assert {"0.005", "0.1", "1.0", "10.0", "+Inf"} <= buckets
    assert after.types["http_server_active_requests"] == "gauge"
    # The scrape itself is in flight while it renders.
    assert after.value("http_server_active_requests", http_request_method="GET") >= 1


async def test_metrics_are_not_in_the_openapi_document_and_can_be_turned_off(
    client: httpx.AsyncClient, settings: Settings, engine: AsyncEngine
) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    assert "/metrics" not in paths
    off = create_app(settings.model_copy(update={"metrics_enabled": False}), engine=engine)
    async with make_client(off) as other:
        response = await other.get("/metrics")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


async def test_fast_reads_are_counted_with_the_route_template(
    needs_postgres: None, client: httpx.AsyncClient, auth_headers: dict[str, str], app: Any
) -> None:
    from tests.test_fast_reads import fast_reads_of

    created = await client.post("/api/tasks", json={"title": "counted"}, headers=auth_headers)
    fast = fast_reads_of(app)
    answered_before = fast.answered
    before = await scrape(client)
    assert (await client.get(created.headers["Location"], headers=auth_headers)).status_code == 200
    assert (await client.get("/api/tasks", headers=auth_headers)).status_code == 200
    after = await scrape(client)

    assert fast.answered - answered_before == 2, "the fast path did not answer them"
    for route in ("/api/tasks/{task_id}", "/api/tasks"):
        assert (
            requests_count(after, "GET", route, 200) - requests_count(before, "GET", route, 200)
            == 1
        ), route


async def test_database_pool_in_use_and_waits(
    needs_postgres: None, database_url: str, engine: AsyncEngine
) -> None:
    app = create_app(make_settings(database_url, db_pool_size=1), engine=engine)
    async with make_client(app) as client:
        headers = bearer(await register(client))
        before = await scrape(client)
        database = app.state.database
        async with database.admitted(), engine.connect():
            held = await scrape(client)
            # Every connection is taken: this request waits for the one held here.
            waiting = asyncio.create_task(client.get("/api/tasks", headers=headers))
            await asyncio.sleep(0.5)
        assert (await waiting).status_code == 200
        after = await scrape(client)
    assert held.value("todo_db_pool_connections_in_use") >= 1
    assert held.value("todo_db_pool_connections_max") >= held.value(
        "todo_db_pool_connections_in_use"
    )
    assert after.value("todo_db_pool_waits_total") - before.value("todo_db_pool_waits_total") >= 1


async def test_reminders_delivered_and_late_are_counted(
    client: httpx.AsyncClient, auth_headers: dict[str, str], engine: AsyncEngine, settings: Settings
) -> None:
    long_ago = (datetime.now(UTC) - timedelta(minutes=10)).isoformat()
    for title in ("late one", "late two"):
        response = await client.post(
            "/api/tasks", json={"title": title, "remind_at": long_ago}, headers=auth_headers
        )
        assert response.status_code == 201
    before = await scrape(client)
    database = create_database(engine, settings)
    assert await deliver_due_reminders(database, EventHub(database, None)) == 2
    after = await scrape(client)
    delivered = after.value("todo_reminders_delivered_total") - before.value(
        "todo_reminders_delivered_total"
    )
    late = after.value("todo_reminders_late_total") - before.value("todo_reminders_late_total")
    assert (delivered, late) == (2, 2)


async def test_webhook_attempts_are_counted_by_outcome_with_their_latency(
    database_url: str, engine: AsyncEngine
) -> None:
    """A real receiver on 127.0.0.1 fails the first attempt (500) and takes the retry."""
    settings = make_settings(
        database_url,
        webhook_allow_http=True,
        webhook_allow_hosts=["127.0.0.1/32"],
        webhook_poll_seconds=0.05,
        webhook_backoff_base_seconds=0.01,
    )
    app = create_app(settings, engine=engine)
    name, duration = "todo_webhook_deliveries_total", "todo_webhook_delivery_duration_seconds"
    with running_receiver() as receiver:
        receiver.behaviours["/hook"] = Behaviour(statuses=[500])
        async with make_client(app) as client:
            headers = bearer(await register(client))
            response = await client.post(
                "/api/webhooks",
                json={"url": receiver.base_url + "/hook", "events": ["task.created"]},
                headers=headers,
            )
            assert response.status_code == 201, response.text
            before = await scrape(client)
            await client.post("/api/tasks", json={"title": "t"}, headers=headers)
            await app.state.webhook_sender.start()
            try:
                await receiver.arrived("/hook", 2)
                after = await scrape(client)
                for _ in range(100):  # the outcome is counted just after the answer
                    if after.value(name, outcome="succeeded") > before.value(
                        name, outcome="succeeded"
                    ):
                        break
                    await asyncio.sleep(0.05)
                    after = await scrape(client)
            finally:
                await app.state.webhook_sender.stop()
    assert after.types["todo_webhook_deliveries"] == "counter"
    for outcome in ("failed", "succeeded"):
        assert after.value(name, outcome=outcome) - before.value(name, outcome=outcome) == 1
    assert after.types[duration] == "histogram"
    assert after.value(f"{duration}_count") - before.value(f"{duration}_count") == 2
