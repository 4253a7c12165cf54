"""/api/health: is the service up, and can it reach its database?"""

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from app.core.database import ping
from app.core.errors import RETRY_AFTER_SECONDS, DatabaseUnavailable, header_specs
from app.service.schemas import HealthStatus, HealthUnavailable

router = APIRouter(prefix="/api", tags=["service"])

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
