"""The hottest reads served in front of FastAPI, for the price of the work they need.

The task list, one task and `/api/auth/me` are most of the traffic. Through FastAPI each pays
for dependency resolution, an SQLAlchemy connection around the driver's, pydantic validating
rows just read and the router's walk: together more CPU than the query itself. `FastReads` is
the innermost middleware: for a plain GET of one of those paths it runs a handler that verifies
the token, checks the session and reads in one asyncpg statement, and encodes the rows with
orjson. The FastAPI routes stay the documented contract (OpenAPI, validation, errors):

- a handler answers only the ordinary success (200); whenever it meets anything else (no or
  another kind of token, a bad or unusual parameter, a conditional header, an empty page, a
  missing task, a dead session, an unexpected error) it returns None and the request goes on
  to FastAPI, which answers it from scratch, errors included, exactly as without this layer;
  the one error answered here is the 503 for an unavailable database (or no free connection
  in time), the route's own answer, given without waiting a second time;
- it runs only on PostgreSQL with driver reads (`DRIVER_READS`): SQLite, and a PgBouncer that
  keeps no prepared statements (DB_POOLER_PREPARED_STATEMENTS=false), always go through FastAPI;
- `tests/test_fast_reads.py` asks both for the same requests and compares status, headers and
  body byte for byte.

The middlewares around it (request id, access log, CORS, HEAD) see both paths alike.
"""

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.util import greenlet_spawn
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from app.core.database import DRIVER_READS, Database, is_unavailable
from app.core.errors import unavailable_response
from app.core.statements import Statement

logger = logging.getLogger("app.fast_reads")


@dataclass(frozen=True)
class RouteTemplate:
    """What the access log reads of `scope["route"]`: the route's path template."""

    path: str


@dataclass(frozen=True)
class FastRead:
    """A handler for GET requests to `path` (exact), or to `prefix` + one path segment."""

    template: str
    handler: "Handler"
    path: str | None = None
    prefix: str | None = None


class Reader:
    """What a handler reads with: asyncpg under a connection of the service's own pool, taken
    behind the same gate as every request's, in autocommit (no transaction block)."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self.engine: AsyncEngine = database.reader
        self.dialect = database.reader.dialect

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[Any]:
        """The driver connection of a pooled connection. SQLAlchemy's `Connection` around it
        (execution options, isolation level set and reset, events) is skipped: a read sent
        straight to asyncpg opens no transaction, and the pool's checkout and checkin (the
        idle ping, the reset on return) still run."""
        pool = self.engine.sync_engine.pool
        async with self.database.admitted():
            pooled = await greenlet_spawn(pool.connect)
            driver = pooled.driver_connection
            try:
                yield driver
            except BaseException:
                # A connection that died is dropped from the pool (invalidating returns it).
                dead = driver is None or driver.is_closed()
                await greenlet_spawn(pooled.invalidate if dead else pooled.close)
                raise
            await greenlet_spawn(pooled.close)

    async def fetch(
        self, connection: Any, statement: Statement, values: dict[str, Any]
    ) -> list[Any]:
        """The rows of `statement` as the driver returns them (records, in column order)."""
        compiled = statement.for_driver(self.dialect)
        rows: list[Any] = await connection.fetch(compiled.sql, *compiled.arguments(values))
        return rows


Handler = Callable[[Scope, Reader], Awaitable[Response | None]]


def header(scope: Scope, name: bytes) -> bytes | None:
    """The value of the request header `name` (lower case), or None."""
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value)
    return None


class FastReads:
    """Innermost middleware: `reads` answer their GETs when they can, FastAPI the rest."""

    def __init__(self, app: ASGIApp, *, database: Database, reads: list[FastRead]) -> None:
        self.app = app
        options = database.reader.get_execution_options()
        self.reader = Reader(database) if options.get(DRIVER_READS) else None
        self.exact = {read.path: read for read in reads if read.path is not None}
        self.prefixed = [read for read in reads if read.prefix is not None]
        self.answered = 0  # requests answered here (the tests check that the path is taken)

    def _read_for(self, path: str) -> FastRead | None:
        read = self.exact.get(path)
        if read is not None:
            return read
        for read in self.prefixed:
            assert read.prefix is not None
            if path.startswith(read.prefix) and "/" not in path[len(read.prefix) :]:
                return read
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.reader is None or scope["type"] != "http" or scope["method"] != "GET":
            await self.app(scope, receive, send)
            return
        read = self._read_for(scope["path"])
        response = None
        if read is not None:
            try:
                response = await read.handler(scope, self.reader)
            except Exception as exc:
                if is_unavailable(exc):
                    # What the route would answer too, but at once: trying again there would
                    # double the wait for a pool that is exhausted or a database that is down.
                    response = unavailable_response(exc)
                else:
                    # FastAPI answers it from scratch (a connection that died was dropped). A
                    # warning with the traceback: a bug here would otherwise only cost speed,
                    # silently (a changed helper's signature once sent every list the slow way).
                    logger.warning("fast read fell through on an error", exc_info=True)
        if response is None:
            await self.app(scope, receive, send)
            return
        self.answered += 1
        scope["route"] = RouteTemplate(read.template)  # type: ignore[union-attr]
        await response(scope, receive, send)
