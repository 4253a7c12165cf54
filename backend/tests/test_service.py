"""Service basics: health, JSON errors, request ids, body limit, CORS, OpenAPI."""

from collections.abc import AsyncIterator

import httpx
import pytest

from app.main import create_app
from tests.conftest import make_client, make_settings

pytestmark = pytest.mark.anyio


async def test_health_reports_database_ok(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


async def test_health_is_503_when_database_is_unreachable() -> None:
    # A port nothing listens on: the health check must really query and report the failure.
    settings = make_settings(
        "postgresql://postgres@127.0.0.1:9/none", db_connect_timeout=2, db_pool_timeout=2
    )
    async with make_client(create_app(settings)) as client:
        response = await client.get("/api/health")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["database"] == "unavailable"
    assert body["code"] == "database_unavailable"
    assert response.headers["Retry-After"].isdigit()


async def test_routes_needing_the_database_answer_503_when_it_is_down() -> None:
    settings = make_settings("postgresql://postgres@127.0.0.1:9/none", db_connect_timeout=2)
    async with make_client(create_app(settings)) as client:
        response = await client.post(
            "/api/auth/login", json={"email": "a@example.com", "password": "whatever1"}
        )
    assert response.status_code == 503
    assert response.json()["code"] == "database_unavailable"
    assert "Retry-After" in response.headers


async def test_unknown_route_is_json_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/nothing-here")
    assert response.status_code == 404
    assert response.json() == {"detail": "No such route.", "code": "not_found"}


async def test_wrong_method_is_json_405(client: httpx.AsyncClient) -> None:
    response = await client.delete("/api/health")
    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"
    assert "GET" in response.headers["Allow"]


async def test_request_id_is_generated_and_echoed(client: httpx.AsyncClient) -> None:
    generated = await client.get("/api/health")
    assert len(generated.headers["X-Request-ID"]) >= 16
    echoed = await client.get("/api/health", headers={"X-Request-ID": "abc-123"})
    assert echoed.headers["X-Request-ID"] == "abc-123"
    # A hostile id (header injection, huge) is replaced rather than echoed.
    replaced = await client.get("/api/health", headers={"X-Request-ID": "x" * 500})
    assert replaced.headers["X-Request-ID"] != "x" * 500


async def test_every_response_has_nosniff_and_no_server_banner(client: httpx.AsyncClient) -> None:
    for response in (await client.get("/api/health"), await client.get("/nope")):
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert "server" not in response.headers


async def test_body_over_one_mib_is_413(
    client: httpx.AsyncClient, auth_headers: dict[str, str]
) -> None:
    body = b'{"title": "' + b"x" * (1024 * 1024) + b'"}'
    response = await client.post(
        "/api/tasks", content=body, headers=auth_headers | {"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"
    assert response.json()["detail"]


async def test_chunked_body_over_one_mib_is_413_without_reading_it_all(
    client: httpx.AsyncClient, auth_headers: dict[str, str]
) -> None:
    sent = 0

    async def chunks() -> AsyncIterator[bytes]:
        nonlocal sent
        for _ in range(64):  # 4 MiB offered, 64 KiB at a time
            sent += 65536
            yield b"x" * 65536

    response = await client.post(
        "/api/tasks", content=chunks(), headers=auth_headers | {"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"
    assert sent < 4 * 1024 * 1024  # reading stopped once the limit was passed


async def test_body_under_the_limit_is_accepted(
    client: httpx.AsyncClient, auth_headers: dict[str, str]
) -> None:
    body = {"title": "big", "description": "d" * 5000}
    response = await client.post("/api/tasks", json=body, headers=auth_headers)
    assert response.status_code == 201


async def test_cors_allows_configured_origin_and_exposes_paging_headers(
    client: httpx.AsyncClient,
) -> None:
    preflight = await client.options(
        "/api/tasks",
        headers={
            "Origin": "http://localhost:3000",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["Access-Control-Allow-Origin"] == "http://localhost:3000"
    simple = await client.get("/api/health", headers={"Origin": "http://localhost:3000"})
    exposed = {
        h.strip().lower() for h in simple.headers["Access-Control-Expose-Headers"].split(",")
    }
    assert {"x-total-count", "link"} <= exposed


async def test_cors_rejects_other_origins(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/health", headers={"Origin": "http://evil.example"})
    assert "Access-Control-Allow-Origin" not in response.headers
    preflight = await client.options(
        "/api/tasks",
        headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "GET"},
    )
    assert preflight.status_code == 400
    assert preflight.json()["code"] == "cors_rejected"
    assert "Access-Control-Allow-Origin" not in preflight.headers


async def test_cors_origins_setting_is_a_comma_separated_list(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CORS_ORIGINS", "http://a.example, http://b.example")
    settings = make_settings(database_url)
    assert settings.cors_origins == ["http://a.example", "http://b.example"]


async def test_openapi_and_docs_are_served(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    assert "/api/tasks" in schema["paths"]
    assert "/api/auth/login" in schema["paths"]
    assert "HTTPBearer" in schema["components"]["securitySchemes"]
    docs = await client.get("/docs")
    assert docs.status_code == 200
    assert "swagger" in docs.text.lower()


async def test_openapi_declares_error_responses(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    assert {"401", "404", "422"} <= set(paths["/api/tasks/{task_id}"]["patch"]["responses"])
    assert {"409", "422", "429"} <= set(paths["/api/auth/register"]["post"]["responses"])
