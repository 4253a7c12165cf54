"""The benchmark's raw reference: the least a task-list request fundamentally needs.

GET /api/tasks verifies an HS256 JWT with PyJWT and runs one indexed SELECT of the user's 20
newest tasks on asyncpg directly (no SQLAlchemy): a fixed pool per worker, asyncpg's own
prepared-statement cache, autocommit and no reset query on release, so one round trip. The rows
are serialised with orjson. No session check, no count, no paging headers, no middleware, no
access log.

It reads its own table, `reference_tasks`, which bench/seed.py fills with the same rows as
`tasks` in the cheapest schema for what the list returns: every column of the v2 `Task`
(due dates, recurrence, reminders, series, version) and the tags as a `text[]` in the same row,
so that tags come with each task in the same statement.

bench/run.py starts it with the service's worker count:
    REF_DATABASE_URL=postgresql://... REF_JWT_SECRET=... REF_PORT=8001 WORKERS=2 \
        python bench/reference_app.py
"""

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
import jwt
import orjson
import uvicorn
from fastapi import FastAPI, Request, Response

PRIORITIES = {1: "High", 2: "Medium", 3: "Low"}
# The members of the v2 `Task`, in its order (API.md).
PAGE = (
    "SELECT id, user_id, title, description, completed, priority, created_at, updated_at,"
    " due_date, due_time, time_zone, due_at, recurrence, remind_at, reminded_at, tags, series_id, version"
    " FROM reference_tasks WHERE user_id = $1 ORDER BY created_at DESC, id DESC LIMIT 20"
)
UNAUTHORIZED = Response(
    b'{"detail":"The token is invalid.","code":"token_invalid"}',
    status_code=401,
    media_type="application/json",
    headers={"WWW-Authenticate": "Bearer"},
)


async def keep_session(connection: asyncpg.Connection) -> None:
    pass


def create_app() -> FastAPI:
    env = os.environ
    secret = env["REF_JWT_SECRET"]
    pool_size = int(env.get("REF_POOL_SIZE", "20"))
    pools: list[asyncpg.Pool] = []

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = await asyncpg.create_pool(
            env["REF_DATABASE_URL"],
            min_size=pool_size,
            max_size=pool_size,
            server_settings={"application_name": "todo-bench-ref", "timezone": "UTC"},
            # asyncpg's default reset (UNLISTEN, RESET ALL, ...) is a second round trip on every
            # release; a connection that only ever runs this SELECT has nothing to reset.
            reset=keep_session,
        )
        pools.append(pool)
        yield
        await pool.close()

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
        rows = await pools[0].fetch(PAGE, user_id)
        body = []
        for row in rows:
            task = dict(row)
            task["priority"] = PRIORITIES[task["priority"]]
            body.append(task)
        # UTC instants end in "Z" as the service writes them; asyncpg's UUIDs go through str().
        return Response(orjson.dumps(body, default=str, option=orjson.OPT_UTC_Z), media_type="application/json")

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
