"""Fast reads: SELECTs built once with SQLAlchemy, compiled once per dialect, and on PostgreSQL
sent straight to asyncpg (see `fetch_all`)."""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Dialect, Select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from app.core.database import DRIVER_READS

AnySelect = Select[*tuple[Any, ...]]


class Statement:
    """A SELECT built once with SQLAlchemy and compiled once per dialect, so that `fetch_all`
    can hand its SQL straight to the driver. Values go through the columns' own types both
    ways (UUIDs, UTC datetimes, priority ranks), exactly as SQLAlchemy would convert them."""

    def __init__(self, select: AnySelect) -> None:
        self.select = select
        self.keys = tuple(select.selected_columns.keys())
        self._compiled: dict[str, _DriverStatement] = {}

    def for_driver(self, dialect: Dialect) -> "_DriverStatement":
        compiled = self._compiled.get(dialect.name)
        if compiled is None:
            compiled = self._compiled[dialect.name] = _DriverStatement.compile(self, dialect)
        return compiled


Processor = Callable[[Any], Any] | None


@dataclass(frozen=True)
class _DriverStatement:
    sql: str
    parameters: tuple[tuple[str, Processor], ...]
    keys: tuple[str, ...]
    # Only the result columns whose type converts the driver's value: a list page has 20 rows,
    # and a call per column and row for nothing is measurable.
    conversions: tuple[tuple[str, Callable[[Any], Any]], ...]

    @classmethod
    def compile(cls, statement: Statement, dialect: Dialect) -> "_DriverStatement":
        compiled = statement.select.compile(dialect=dialect)
        assert compiled.positiontup is not None, "a driver with positional parameters"
        parameters = tuple(
            (name, compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect))
            for name in compiled.positiontup
        )
        processors = (
            (key, column.type.dialect_impl(dialect).result_processor(dialect, None))
            for key, column in zip(statement.keys, statement.select.selected_columns, strict=True)
        )
        conversions = tuple((key, process) for key, process in processors if process is not None)
        return cls(compiled.string, parameters, statement.keys, conversions)

    def arguments(self, values: dict[str, Any]) -> list[Any]:
        return [
            values[name] if process is None else process(values[name])
            for name, process in self.parameters
        ]

    def record(self, row: Sequence[Any]) -> dict[str, Any]:
        values = dict(zip(self.keys, row, strict=True))
        for key, process in self.conversions:
            values[key] = process(values[key])
        return values


async def _driver_connection(connection: AsyncConnection) -> Any:
    """The asyncpg connection under `connection`. While it is valid (always, except after an
    error that invalidated it), read it without a greenlet round trip."""
    sync = connection.sync_connection
    if sync is not None and not (sync.closed or sync.invalidated):
        return sync.connection.driver_connection
    return (await connection.get_raw_connection()).driver_connection


async def fetch_all(
    connection: AsyncConnection, statement: Statement, values: dict[str, Any]
) -> list[dict[str, Any]]:
    """The rows of a SELECT as dicts keyed by column label.

    On PostgreSQL the SQL goes straight to asyncpg: SQLAlchemy's execution and result layers
    cost about 0.15 ms of CPU per statement, as much as the rest of a request's own work, and
    the two hot reads (the token's session check and the task page) run on every request.
    Elsewhere (SQLite, PgBouncer: no DRIVER_READS option) it runs through SQLAlchemy.
    """
    options = connection.sync_connection and connection.sync_connection.get_execution_options()
    if not options or not options.get(DRIVER_READS):
        result = await connection.execute(statement.select, values)
        return [dict(zip(statement.keys, row, strict=True)) for row in result]
    compiled = statement.for_driver(connection.dialect)
    driver = await _driver_connection(connection)
    try:
        rows = await driver.fetch(compiled.sql, *compiled.arguments(values))
    except Exception as exc:
        # What SQLAlchemy would do: wrap the driver's error (the error handlers and
        # `is_unavailable` know that shape) and drop a connection that died from the pool.
        closed = driver.is_closed()
        if closed:
            await connection.invalidate()
        raise DBAPIError(
            compiled.sql, None, exc, hide_parameters=True, connection_invalidated=closed
        ) from exc
    return [compiled.record(row) for row in rows]
