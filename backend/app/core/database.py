"""Async engine, DATABASE_URL parsing, and the per-request connection or session."""

import asyncio
import sqlite3
import ssl
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any
from uuid import uuid4

import orjson
from fastapi import Depends, Request
from sqlalchemy import event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry, NullPool

from app.core import sqlite
from app.core.config import Settings
from app.core.metrics import DB_POOL_TIMEOUTS, DB_POOL_WAITS

# libpq's sslmode values, which asyncpg also understands as its `ssl` argument.
SSL_MODES = {"disable", "allow", "prefer", "require", "verify-ca", "verify-full"}
# libpq-only parameters asyncpg has no argument for (asyncpg negotiates SCRAM itself).
DROPPED_PG_PARAMS = {"channel_binding", "sslmode", "sslrootcert", "connect_timeout"}

# Errors that mean "the database is not there right now", as opposed to a bad query: the
# driver's connection errors, socket errors and timeouts (TimeoutError and ConnectionError are
# OSErrors), and no free connection in the pool within DB_POOL_TIMEOUT.
UNAVAILABLE_ERRORS: tuple[type[BaseException], ...] = (
    OperationalError,
    InterfaceError,
    DisconnectionError,
    PoolTimeout,
    OSError,
)
# PostgreSQL's SQLSTATEs for the same: connection exceptions (class 08), insufficient resources
# (53, e.g. too many connections), shutdown and start-up (57P01-57P03: admin or crash shutdown,
# "the database system is starting up"), and a statement cancelled by statement_timeout (57014).
UNAVAILABLE_SQLSTATE_PREFIXES = ("08", "53", "57P0", "57014")


@dataclass(frozen=True)
class DatabaseTarget:
    """A DATABASE_URL normalised for SQLAlchemy's async drivers."""

    url: URL
    connect_args: dict[str, Any] = field(default_factory=dict)
    # Behind PgBouncer in transaction mode (see `parse_database_url`).
    pooled: bool = False
    # Pooled, and the pooler cannot keep named prepared statements across transactions.
    statements_per_transaction: bool = False

    @property
    def is_sqlite(self) -> bool:
        return self.url.get_backend_name() == "sqlite"


def parse_database_url(
    raw: str, *, pgbouncer: bool | None = None, pooler_prepared_statements: bool = True
) -> DatabaseTarget:
    """Accept sqlite://, postgres://, postgresql:// and driver-qualified URLs, Neon's included.
    `pgbouncer`: behind PgBouncer in transaction mode (None: a Neon "-pooler" host);
    `pooler_prepared_statements`: it keeps prepared statements per client (see Settings)."""
    if raw.startswith("postgres://"):
        raw = "postgresql://" + raw.removeprefix("postgres://")
    url = make_url(raw)
    backend = url.get_backend_name()
    if backend == "sqlite":
        database = url.database
        if database and database != ":memory:":
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        return DatabaseTarget(url.set(drivername="sqlite+aiosqlite"))
    if backend != "postgresql":
        raise ValueError(f"DATABASE_URL must be SQLite or PostgreSQL, not {backend!r}")

    query = dict(url.query)
    connect_args: dict[str, Any] = {}
    sslmode = query.get("sslmode") or query.get("ssl")
    if isinstance(sslmode, str) and sslmode in SSL_MODES:
        connect_args["ssl"] = sslmode
    root_cert = query.get("sslrootcert")
    if isinstance(root_cert, str) and sslmode in {"verify-ca", "verify-full"}:
        context = ssl.create_default_context(cafile=root_cert)
        context.check_hostname = sslmode == "verify-full"
        connect_args["ssl"] = context
    kept = {k: v for k, v in query.items() if k not in DROPPED_PG_PARAMS and k != "ssl"}
    url = url.set(drivername="postgresql+asyncpg", query=kept)

    if pgbouncer is None:
        pgbouncer = "-pooler" in (url.host or "")
    per_transaction = bool(pgbouncer) and not pooler_prepared_statements
    if per_transaction:
        # PgBouncer in transaction mode without max_prepared_statements may hand each statement
        # to another server connection: named prepared statements must be unique and never
        # cached across transactions. (With it, PgBouncer prepares a client's statements on
        # whichever server connection it lends, and asyncpg's cache works as on a direct one.)
        connect_args |= {
            "statement_cache_size": 0,
            "prepared_statement_cache_size": 0,
            "prepared_statement_name_func": lambda: f"__asyncpg_{uuid4()}__",
        }
    return DatabaseTarget(url, connect_args, bool(pgbouncer), per_transaction)


def _target(settings: Settings) -> DatabaseTarget:
    return parse_database_url(
        settings.database_url,
        pgbouncer=settings.db_pgbouncer,
        pooler_prepared_statements=settings.db_pooler_prepared_statements,
    )


def create_engine(
    settings: Settings, *, schema: str | None = None, single_use: bool = False
) -> AsyncEngine:
    """The service's engine. `schema` pins PostgreSQL's search_path (the tests use it).
    `single_use`: no pool, each connection is opened for one use and closed (the readiness
    probe's)."""
    target = _target(settings)
    if target.is_sqlite:
        engine = create_async_engine(
            target.url,
            connect_args={"timeout": settings.db_pool_timeout},
            hide_parameters=True,
            **({"poolclass": NullPool} if single_use else {"pool_pre_ping": True}),
        )
        event.listen(engine.sync_engine, "connect", sqlite.on_connect)
        event.listen(engine.sync_engine, "begin", sqlite.on_begin)
        return engine

    server_settings = {"application_name": "todo-api", "timezone": "UTC"}
    timeout = settings.db_statement_timeout_ms / 1000
    # PgBouncer refuses a connection whose startup packet sets any parameter but a few
    # (application_name and TimeZone among them): behind it the statement timeout is the
    # driver's, which cancels a statement that runs longer (the cancel goes through PgBouncer).
    pooled = target.pooled
    if timeout and not pooled:
        server_settings["statement_timeout"] = str(settings.db_statement_timeout_ms)
    if pooled:
        # asyncpg asks for client_encoding 'utf-8' (quotes included); the server reports UTF8.
        # PgBouncer compares the two as text, finds them different, and so sends its own `SET
        # client_encoding` before every transaction it lends a server connection for: twice
        # the transactions on the server. The server's own spelling (sent after asyncpg's, so
        # it wins) ends that.
        server_settings["client_encoding"] = "UTF8"
    if schema:
        server_settings["search_path"] = schema
    connect_args = {
        **target.connect_args,
        "timeout": settings.db_connect_timeout,
        "command_timeout": (timeout if pooled else timeout + 5) if timeout else None,
        "server_settings": server_settings,
    }
    engine = create_async_engine(
        target.url,
        connect_args=connect_args,
        # JSON columns (a task's tags) read back with orjson: the standard library's decoder
        # was 4 % of a list request's CPU. Same values (lists of strings), written as before.
        json_deserializer=orjson.loads,
        **(
            {"poolclass": NullPool}
            if single_use
            else {
                "pool_size": settings.db_pool_size,
                "max_overflow": settings.db_max_overflow,
                "pool_timeout": settings.db_pool_timeout,
                "pool_recycle": 1800,
            }
        ),
        # Statement parameters hold password and token hashes: keep them out of error messages
        # (which reach the log with a 500's traceback) and out of SQL echo logging.
        hide_parameters=True,
    )
    event.listen(engine.sync_engine, "checkin", _remember_checkin)
    event.listen(engine.sync_engine, "checkout", _ping_if_idle)
    return engine


# A connection back in use within this many seconds is trusted without a round trip: under load
# that saves a ping per request (pool_pre_ping would cost one); an idle one is checked first.
PING_AFTER_IDLE_SECONDS = 5.0


def _remember_checkin(_dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
    record.info["checked_in_at"] = time.monotonic()


def _ping_if_idle(dbapi_connection: Any, record: ConnectionPoolEntry, _proxy: Any) -> None:
    checked_in_at = record.info.get("checked_in_at")
    if checked_in_at is not None and time.monotonic() - checked_in_at < PING_AFTER_IDLE_SECONDS:
        return
    try:
        dbapi_connection.ping()
    except Exception as exc:
        # The pool drops this connection and checks out (or opens) another.
        raise DisconnectionError() from exc


READ_ONLY_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Our execution option: `fetch_all` may send its SELECTs straight to asyncpg.
DRIVER_READS = "todo_driver_reads"


@dataclass(frozen=True)
class Database:
    """The engine as requests use it.

    - `reader` runs reads: on PostgreSQL without a transaction block (autocommit), which saves
      the BEGIN and COMMIT round trips on every GET (behind PgBouncer in a transaction: see
      `create_database`); on SQLite in deferred transactions, which
      take no lock (see `app.core.sqlite`). A read request that must write calls
      `sqlite.allow_writes` first.
    - `sessions` make the ORM sessions of the account flows.
    - `gate` admits as many requests as the pool has connections, first come first served.
      SQLAlchemy's async pool queue is not fair (a newcomer can take the connection just
      handed to a waiter, who goes back to the end of the line), so under overload a few
      requests would wait the whole pool timeout; behind the gate, waits stay even.
    On PostgreSQL both engines carry the execution option DRIVER_READS (see `fetch_all`).
    """

    engine: AsyncEngine
    reader: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    gate: asyncio.Semaphore | None = None
    gate_timeout: float = 5.0

    @asynccontextmanager
    async def admitted(self) -> AsyncIterator[None]:
        if self.gate is None:
            yield
            return
        if self.gate.locked():  # every connection is in use: this one waits
            DB_POOL_WAITS.inc()
        try:
            async with asyncio.timeout(self.gate_timeout):
                await self.gate.acquire()
        except TimeoutError:
            DB_POOL_TIMEOUTS.inc()
            # The same error as an exhausted pool: answered 503 database_unavailable.
            raise PoolTimeout("no database connection became free in time") from None
        try:
            yield
        finally:
            self.gate.release()


def create_database(engine: AsyncEngine, settings: Settings) -> Database:
    sessions = async_sessionmaker(engine, expire_on_commit=False, autoflush=False)
    if engine.dialect.name == "sqlite":
        return Database(engine, engine.execution_options(**{sqlite.READ_ONLY: True}), sessions)
    # Behind a PgBouncer that does not keep prepared statements (DB_POOLER_PREPARED_STATEMENTS
    # =false) only SQLAlchemy's uniquely named prepared statements are safe, and only inside a
    # transaction: in transaction mode PgBouncer may hand the statement's execution to another
    # server connection than its preparation once no transaction holds it ("prepared statement
    # ... does not exist"). So there reads run in a transaction too, and never straight on the
    # driver. A PgBouncer with max_prepared_statements (Neon's) is used as a direct connection.
    per_transaction = _target(settings).statements_per_transaction
    options = {DRIVER_READS: not per_transaction}
    return Database(
        engine.execution_options(**options),
        engine.execution_options(**options)
        if per_transaction
        else engine.execution_options(isolation_level="AUTOCOMMIT", **options),
        sessions,
        gate=asyncio.Semaphore(settings.db_pool_size + settings.db_max_overflow),
        gate_timeout=settings.db_pool_timeout,
    )


def _database(request: Request) -> Database:
    database: Database = request.app.state.database
    return database


async def get_connection(request: Request) -> AsyncIterator[AsyncConnection]:
    """One connection per request, for the Core queries of the task routes and the token check:
    a read runs on `reader`; anything else in one transaction, committed when the route
    succeeds and rolled back when it raises."""
    database = _database(request)
    engine = database.reader if request.method in READ_ONLY_METHODS else database.engine
    async with database.admitted(), engine.connect() as connection:
        yield connection
        if connection.in_transaction():  # a read sent straight to the driver opened none
            await connection.commit()


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """An ORM session for the account flows. It takes a connection only when it first runs a
    statement and gives it back on commit, so login holds none while bcrypt runs."""
    database = _database(request)
    async with database.admitted(), database.sessions() as session:
        try:
            yield session
        except BaseException:
            await session.rollback()
            raise
        else:
            await session.commit()


# scope="function": the commit happens before the response is sent, so a failed commit is
# answered as an error instead of a success for data that was never stored.
ConnectionDep = Annotated[AsyncConnection, Depends(get_connection, scope="function")]
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]


async def ping(engine: AsyncEngine) -> None:
    """Run a real round trip; raises when the database cannot answer."""
    async with engine.connect() as connection:
        await connection.execute(text("SELECT 1"))


def is_unavailable(exc: BaseException) -> bool:
    """Whether `exc` says the database is unreachable rather than that a query was wrong. The
    driver's error may be wrapped (SQLAlchemy keeps it in `.orig`, asyncpg's in `__cause__`):
    "the database system is starting up" arrives as a plain DBAPIError, for one. SQLite raises
    OperationalError for a syntax error as for a busy lock: its error code tells them apart."""
    chain = list(_error_chain(exc))
    for error in chain:
        if isinstance(error, sqlite3.Error):  # the driver's own code is the precise answer
            return sqlite.is_unavailable_error(error)
    for error in chain:
        if isinstance(error, DBAPIError) and error.connection_invalidated:
            return True
        if isinstance(error, UNAVAILABLE_ERRORS):
            return True
        sqlstate = getattr(error, "sqlstate", None) or getattr(error, "pgcode", None)
        if isinstance(sqlstate, str) and sqlstate.startswith(UNAVAILABLE_SQLSTATE_PREFIXES):
            return True
    return False


def _error_chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    error: BaseException | None = exc
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        yield error
        error = getattr(error, "orig", None) or error.__cause__
