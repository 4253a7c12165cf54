"""The application factory: settings, database, middleware, routers, error handlers."""

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from app.accounts import fast_reads as accounts_fast_reads
from app.accounts import router as accounts_router
from app.accounts.better_auth import BetterAuthVerifier
from app.accounts.cleanup import session_cleanup_job
from app.accounts.passwords import PasswordHasher
from app.accounts.rate_limit import RateLimiter
from app.accounts.revocations import revocation_cleanup_job
from app.accounts.service import AccountContext
from app.core.background import BackgroundJobs, PeriodicJob
from app.core.config import Settings, load_settings
from app.core.database import create_database, create_engine
from app.core.docs import install_docs
from app.core.drain import Drain
from app.core.errors import install_error_handlers
from app.core.fast_reads import FastReads
from app.core.logs import configure_logging
from app.core.metrics import GaugeSampler, HttpMetrics, forget_dead_workers, worker_stopped
from app.core.middleware import HeadMiddleware, JSONCORSMiddleware, RequestContextMiddleware
from app.integrations import calendar_router
from app.integrations import router as webhooks_router
from app.integrations.guard import Guard
from app.integrations.sender import WebhookSender, integration_jobs
from app.lists import router as lists_router
from app.mcp import router as mcp_router
from app.mcp.server import create_mcp
from app.service import router as service_router
from app.sync import fast_reads as sync_fast_reads
from app.sync import router as sync_router
from app.sync.hub import EventHub
from app.sync.jobs import sync_jobs
from app.sync.news import NewsMiddleware
from app.tasks import fast_reads as tasks_fast_reads
from app.tasks import router as tasks_router
from app.tasks import tags_router

DESCRIPTION = """
A multi-user Todo API. Register or log in under **auth**, then press **Authorize** and paste
the `access_token`. Every error body carries `detail`, and `code` except for 422s.

Scripts and AI assistants use a personal access token (`POST /api/auth/tokens`) as the bearer
token, here and at the MCP server at `/mcp` (Model Context Protocol, Streamable HTTP).
"""


def create_app(
    settings: Settings | None = None,
    *,
    engine: AsyncEngine | None = None,
    fast_reads: bool = True,
    span_exporter: Any = None,
) -> FastAPI:
    """The application. `fast_reads=False` leaves every request to FastAPI (the tests compare
    both ways of answering); `span_exporter` replaces the OTLP exporter (the tests read spans
    in memory)."""
    settings = settings or load_settings()
    configure_logging(settings)
    engine = engine or create_engine(settings)
    better_auth = BetterAuthVerifier(settings) if settings.better_auth_enabled else None
    database = create_database(engine, settings)
    # The readiness probe's own connections: a pool busy with requests is not a database down.
    probe_engine = create_engine(settings, single_use=True)
    mcp = create_mcp(settings=settings, database=database, better_auth=better_auth)
    # Live events: this worker's open streams and the news between instances (app.sync.hub).
    events = EventHub(database, settings.events_broker_url, slots_dir=settings.stream_slots_dir)
    # Upkeep in every worker, at start and then periodically (app.core.background).
    gauges = GaugeSampler(engine=engine, stream_count=events.stream_count)
    jobs = BackgroundJobs(
        [
            session_cleanup_job(database),
            revocation_cleanup_job(database),
            *sync_jobs(database, events),
            *integration_jobs(database),
            *([PeriodicJob("sample gauges", 1.0, gauges.run)] if settings.metrics_enabled else []),
        ]
    )
    tracer_provider = None
    if settings.otel_exporter_otlp_endpoint:
        # Imported only when configured: unset, no OpenTelemetry code runs (API.md).
        from app.core.tracing import make_tracer_provider

        tracer_provider = make_tracer_provider(settings.otel_exporter_otlp_endpoint, span_exporter)
    # SIGTERM: not ready first, then uvicorn's graceful shutdown (app.core.drain).
    drain = Drain(delay_seconds=settings.shutdown_drain_seconds)
    drain.on_begin(events.drain)
    # Webhook deliveries: checked URLs only (app.integrations.guard), sent by every worker.
    webhook_guard = Guard.from_settings(settings.webhook_allow_http, settings.webhook_allow_hosts)
    sender = WebhookSender(database, settings, webhook_guard) if settings.webhook_sender else None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if app.state.serving:
            drain.install_sigterm()
            forget_dead_workers()  # a worker that died, replaced by this one
        await jobs.start()
        if sender is not None:
            await sender.start()
        # A mounted app's lifespan does not run: ours enters the MCP session manager.
        async with mcp.session_manager.run():
            yield
        await jobs.stop()
        if sender is not None:
            await sender.stop()
        await events.aclose()
        if better_auth is not None:
            await better_auth.aclose()
        await engine.dispose()
        await probe_engine.dispose()
        if tracer_provider is not None:
            tracer_provider.shutdown()  # the last spans go out
        if app.state.serving:
            worker_stopped()

    app = FastAPI(
        title="Todo API",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        # /docs is ours (`install_docs`: assets served locally, not from a CDN); no ReDoc.
        docs_url=None,
        redoc_url=None,
        # The docs list the groups in this order, whatever the order of the routes.
        openapi_tags=[
            {"name": "auth", "description": "Accounts, sessions and tokens."},
            {"name": "tasks", "description": "The signed-in user's tasks, and only theirs."},
            {"name": "events", "description": "Live task changes (Server-Sent Events)."},
            {"name": "tags", "description": "The signed-in user's tags, across their tasks."},
            {"name": "calendar", "description": "Calendar feeds of the user's dated tasks."},
            {
                "name": "webhooks",
                "description": "Signed HTTP callbacks for every change the user can see.",
            },
            {"name": "service", "description": "Health, liveness and readiness probes."},
        ],
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.database = database
    app.state.probe_engine = probe_engine
    app.state.jobs = jobs
    app.state.webhook_guard = webhook_guard
    app.state.webhook_sender = sender
    app.state.events = events
    app.state.drain = drain
    app.state.gauges = gauges
    app.state.tracer_provider = tracer_provider
    app.state.serving = False  # a served worker's (create_served_app): it handles SIGTERM
    app.state.accounts = AccountContext(
        settings=settings,
        hasher=PasswordHasher(settings.bcrypt_rounds),
        limiter=RateLimiter(settings.rate_limit_storage_url),
    )
    app.state.better_auth = better_auth

    install_error_handlers(app)
    install_docs(app)
    # Routes are matched in order: the task routes, which most requests go to, come first
    # (`/api/tasks/sync` before `/api/tasks/{task_id}`).
    app.include_router(sync_router.router)
    app.include_router(tasks_router.router)
    app.include_router(lists_router.router)
    app.include_router(tags_router.router)
    app.include_router(webhooks_router.router)
    app.include_router(accounts_router.router)
    app.include_router(calendar_router.router)
    app.include_router(service_router.router)
    if settings.metrics_enabled:
        app.include_router(service_router.metrics_router)
    app.include_router(mcp_router.create_router(settings))
    app.router.routes.append(mcp.route)

    # Innermost: the hottest reads answered without FastAPI when they can be (app.core.fast_reads).
    if fast_reads:
        bridge = better_auth is not None
        app.add_middleware(
            FastReads,
            database=database,
            reads=[
                tasks_fast_reads.list_read(settings, bridge=bridge),
                tasks_fast_reads.get_read(settings, bridge=bridge),
                accounts_fast_reads.me_read(settings, bridge=bridge),
                sync_fast_reads.delta_sync_read(settings, bridge=bridge),
            ],
        )
    app.add_middleware(HeadMiddleware)
    # A write's news goes out once its response starts, after its commit (app.sync.news).
    app.add_middleware(NewsMiddleware, announce=events.announce)
    app.add_middleware(
        JSONCORSMiddleware,
        allow_origins=settings.cors_origins,
        allow_credentials=True,
        allow_methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
        # The Mcp-* headers: for MCP clients that run in a browser.
        allow_headers=[
            "Authorization",
            "Content-Type",
            "X-Request-ID",
            "Idempotency-Key",
            "Last-Event-ID",
            "If-Match",
            "If-None-Match",
            "Mcp-Protocol-Version",
            "Mcp-Session-Id",
        ],
        expose_headers=[
            "X-Total-Count",
            "Link",
            "Location",
            "X-Request-ID",
            "Retry-After",
            "Idempotency-Replayed",
            "ETag",
            "WWW-Authenticate",
            "Mcp-Session-Id",
        ],
        max_age=600,
    )
    # Outermost: every response, errors and CORS preflights included, gets its request id.
    app.add_middleware(
        RequestContextMiddleware,
        max_body_bytes=settings.max_body_bytes,
        metrics=HttpMetrics() if settings.metrics_enabled else None,
    )
    if tracer_provider is not None:  # outermost: the span covers the access log line too
        from app.core.tracing import TracingMiddleware

        app.add_middleware(TracingMiddleware, provider=tracer_provider)
    return app


# Container objects allocated (net of those freed) before the collector runs; Python's
# default is 700. Under load the requests in flight alone reach that, so their objects survive
# each collection into the old generation and soon trigger a full one. In a `BENCH_ONLY=
# list,events` run (about a minute of load, 1,000 event streams open for half of it) each
# worker made 21-23 full collections of up to 250 ms (1.7 s), and spent 1.3 s more in the
# young ones; at 10,000, under 40 collections in all, none of them full (README, Performance).
YOUNG_COLLECTION_THRESHOLD = 10_000


def create_served_app() -> FastAPI:
    """The app as `python -m app run|serve` builds it in each worker process. Everything made
    while building it (modules, models, routes, statements) lives as long as the worker: frozen
    out of the garbage collector's sight, a full collection takes microseconds instead of about
    130 ms, a pause that every in-flight request of the worker would wait out (the list's p99).
    And the collector runs less often (YOUNG_COLLECTION_THRESHOLD)."""
    app = create_app()
    app.state.serving = True
    gc.freeze()
    gc.set_threshold(YOUNG_COLLECTION_THRESHOLD)
    return app
