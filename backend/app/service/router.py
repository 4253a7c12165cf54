"""/api/health: is the service up, and can it reach its database? And the probes of an
orchestrator: `/api/health/live` (the process serves) and `/api/health/ready` (send it work)."""

import anyio
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from app.core.database import ping
from app.core.errors import RETRY_AFTER_SECONDS, DatabaseUnavailable, header_specs
from app.core.metrics import CONTENT_TYPE, render
from app.service.readiness import (
    NOT_READY_REASONS,
    check_readiness,
    not_ready_code,
)
from app.service.schemas import Alive, HealthStatus, HealthUnavailable, NotReady, Ready

router = APIRouter(prefix="/api", tags=["service"])
# GET /metrics: for Prometheus, outside /api and the OpenAPI document (API.md).
metrics_router = APIRouter()

PING_TIMEOUT_SECONDS = 3


@router.get(
    "/health",
    response_model=HealthStatus,
    responses={
        503: {
            "model": HealthUnavailable,
            "description": "The database does not answer.",
            "headers": header_specs(DatabaseUnavailable),
        }
    },
)
async def health(request: Request) -> HealthStatus | JSONResponse:
    """Liveness and database reachability (a real query). No authentication."""
    try:
        with anyio.fail_after(PING_TIMEOUT_SECONDS):
            await ping(request.app.state.database.reader)
    except Exception:
        error = DatabaseUnavailable()
        body = HealthUnavailable(detail=error.message, code=error.code)
        return JSONResponse(
            body.model_dump(), status_code=503, headers={"Retry-After": str(RETRY_AFTER_SECONDS)}
        )
    return HealthStatus()


@router.get("/health/live", response_model=Alive)
async def live() -> Alive:
    """Liveness probe: 200 while the process serves requests. It touches nothing else (no
    database): a database outage must not get healthy workers restarted."""
    return Alive()


@router.get(
    "/health/ready",
    response_model=Ready,
    responses={
        503: {
            "model": NotReady,
            "description": "Not ready: "
            + "; ".join(f"`{code}`: {text}" for code, text in NOT_READY_REASONS.items()),
            "headers": header_specs(DatabaseUnavailable),
            "content": {
                "application/json": {
                    "example": {
                        "status": "unavailable",
                        "database": "ok",
                        "broker": "not_configured",
                        "draining": True,
                        "detail": NOT_READY_REASONS["shutting_down"],
                        "code": "shutting_down",
                    }
                }
            },
        }
    },
)
async def ready(request: Request) -> Ready | JSONResponse:
    """Readiness probe: 200 when the database (and the event broker, when configured) answer
    within a second and the server is not shutting down; else 503."""
    state = request.app.state
    readiness = await check_readiness(
        database=state.database, broker=state.events.broker, drain=state.drain
    )
    if readiness.ready:
        assert readiness.broker != "unavailable"
        return Ready(broker=readiness.broker)
    code = not_ready_code(readiness)
    body = NotReady(
        database=readiness.database,
        broker=readiness.broker,
        draining=readiness.draining,
        detail=NOT_READY_REASONS[code],
        code=code,
    )
    return JSONResponse(
        body.model_dump(), status_code=503, headers={"Retry-After": str(RETRY_AFTER_SECONDS)}
    )


@metrics_router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    """Prometheus text format: every worker of the instance, summed (app.core.metrics)."""
    request.app.state.gauges.sample()
    body = await anyio.to_thread.run_sync(render)
    return Response(body, media_type=CONTENT_TYPE)
