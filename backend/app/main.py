"""The application factory: settings, database, middleware, routers, error handlers."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.datastructures import Headers
from starlette.responses import Response

from app.accounts import AccountContext
from app.auth import PasswordHasher
from app.better_auth import BetterAuthVerifier
from app.config import Settings, load_settings
from app.database import create_database, create_engine
from app.errors import error_response, install_error_handlers
from app.logs import configure_logging
from app.middleware import RequestContextMiddleware
from app.rate_limit import RateLimiter
from app.routers import auth, health, tasks

DESCRIPTION = """
A multi-user Todo API. Register or log in under **auth**, then press **Authorize** and paste
the `access_token`. Every error body carries `detail`, and `code` except for 422s.
"""


class JSONCORSMiddleware(CORSMiddleware):
    """Starlette's CORS, with its rejected preflights answered in our JSON error format."""

    def preflight_response(self, request_headers: Headers) -> Response:
        response = super().preflight_response(request_headers)
        if response.status_code != 400:
            return response
        headers = {k: v for k, v in response.headers.items() if k.lower() != "content-length"}
        return error_response(400, bytes(response.body).decode(), "cors_rejected", headers)


def create_app(settings: Settings | None = None, *, engine: AsyncEngine | None = None) -> FastAPI:
    settings = settings or load_settings()
    configure_logging(settings)
    engine = engine or create_engine(settings)
    better_auth = BetterAuthVerifier(settings) if settings.better_auth_enabled else None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        if better_auth is not None:
            await better_auth.aclose()
        await engine.dispose()

    app = FastAPI(
        title="Todo API",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        # Our own docs link is enough; no ReDoc duplicate.
        redoc_url=None,
        # The docs list the groups in this order, whatever the order of the routes.
        openapi_tags=[
            {"name": "auth", "description": "Accounts, sessions and tokens."},
            {"name": "tasks", "description": "The signed-in user's tasks, and only theirs."},
            {"name": "service", "description": "Liveness and database reachability."},
        ],
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.database = create_database(engine, settings)
    app.state.accounts = AccountContext(
        settings=settings,
        hasher=PasswordHasher(settings.bcrypt_rounds),
        limiter=RateLimiter(settings.rate_limit_storage_url),
    )
    app.state.better_auth = better_auth

    install_error_handlers(app)
    # Routes are matched in order: the task routes, which most requests go to, come first.
    app.include_router(tasks.router)
    app.include_router(auth.router)
    app.include_router(health.router)

    app.add_middleware(
        JSONCORSMiddleware,
        allow_origins=settings.cors_origins,
        allow_credentials=True,
        allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
        allow_headers=["Authorization", "Content-Type", "X-Request-ID"],
        expose_headers=["X-Total-Count", "Link", "Location", "X-Request-ID", "Retry-After"],
        max_age=600,
    )
    # Outermost: every response, errors and CORS preflights included, gets its request id.
    app.add_middleware(RequestContextMiddleware, max_body_bytes=settings.max_body_bytes)
    return app
