"""The benchmark's reference: the least a task-list request fundamentally needs, on the same stack.

GET /api/tasks verifies an HS256 JWT with PyJWT, runs one indexed SELECT of the user's 20 newest
tasks through SQLAlchemy's async core on asyncpg (same pool size, overflow, timeout and recycle
as the service), and serialises the rows to JSON. No session lookup, no count, no ORM, no
transaction (AUTOCOMMIT: the SELECT is the only round trip), no access log.

bench/run.py starts it with the service's worker count:
    REF_DATABASE_URL=postgresql+asyncpg://... REF_JWT_SECRET=... REF_PORT=8001 WORKERS=2 \
        python bench/reference_app.py
"""

import json
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import jwt
import uvicorn
from fastapi import FastAPI, Request, Response
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

PRIORITIES = {1: "High", 2: "Medium", 3: "Low"}
PAGE = text(
    "SELECT id, user_id, title, description, completed, priority, created_at, updated_at"
    " FROM tasks WHERE user_id = :user_id ORDER BY created_at DESC, id DESC LIMIT 20"
)
UNAUTHORIZED = Response(
    b'{"detail":"The token is invalid.","code":"token_invalid"}',
    status_code=401,
    media_type="application/json",
    headers={"WWW-Authenticate": "Bearer"},
)


def create_app() -> FastAPI:
    env = os.environ
    secret = env["REF_JWT_SECRET"]
    engine = create_async_engine(
        env["REF_DATABASE_URL"],
        pool_size=int(env.get("REF_POOL_SIZE", "10")),
        max_overflow=int(env.get("REF_MAX_OVERFLOW", "10")),
        pool_timeout=float(env.get("REF_POOL_TIMEOUT", "5")),
        pool_recycle=1800,
        pool_pre_ping=env.get("REF_PRE_PING") == "1",
        isolation_level="AUTOCOMMIT",
        connect_args={"server_settings": {"application_name": "todo-bench-ref", "timezone": "UTC"}},
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await engine.dispose()

    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None, lifespan=lifespan)

    @app.get("/api/tasks")
    async def list_tasks(request: Request) -> Response:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        try:
            claims = jwt.decode(token, secret, algorithms=["HS256"], options={"require": ["sub", "exp"]})
            user_id = uuid.UUID(claims["sub"])
        except (jwt.InvalidTokenError, ValueError):
            return UNAUTHORIZED
        if scheme.lower() != "bearer":
            return UNAUTHORIZED
        async with engine.connect() as connection:
            rows = (await connection.execute(PAGE, {"user_id": user_id})).all()
        body = [
            {
                "id": str(row.id),
                "user_id": str(row.user_id),
                "title": row.title,
                "description": row.description,
                "completed": row.completed,
                "priority": PRIORITIES[row.priority],
                "created_at": row.created_at.isoformat(),
                "updated_at": row.updated_at.isoformat(),
            }
            for row in rows
        ]
        return Response(json.dumps(body, separators=(",", ":")), media_type="application/json")

    return app


if __name__ == "__main__":
    uvicorn.run(
        "reference_app:create_app",
        factory=True,
        app_dir=str(Path(__file__).resolve().parent),
        host="127.0.0.1",
        port=int(os.environ["REF_PORT"]),
        workers=int(os.environ.get("WORKERS", "2")),
        log_level="warning",
        access_log=False,
        server_header=False,
    )
