"""SQLite, the zero-setup default: connection set-up, how transactions begin, and which of its
errors mean "unavailable".

Reads and writes begin differently. WAL lets readers run beside the one writer, so a read
transaction begins deferred and takes no lock. A write transaction begins IMMEDIATE, taking
the write lock up front: concurrent writers then queue on busy_timeout, whereas a deferred
transaction that reads and then writes fails at once with "database is locked" (SQLite cannot
make it wait without risking a deadlock). Connections of the reader engine carry the execution
option READ_ONLY; a request on one that must write after all calls `allow_writes` first.
"""

import sqlite3
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.pool import ConnectionPoolEntry

# Our execution option: this connection's transactions only read.
READ_ONLY = "todo_read_only"

# Primary result codes (`sqlite_errorcode & 0xFF`; extended codes such as SQLITE_BUSY_SNAPSHOT
# keep their primary code in the low byte) that mean "try again later": the lock was not free
# within busy_timeout, or the file cannot be opened or read. Anything else is a bad statement
# or a bug: a 500, as on PostgreSQL.
UNAVAILABLE_CODES = frozenset(
    {sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_IOERR}
)
BUSY_TIMEOUT_MS = 5000


def on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    # Take transaction control from the driver (it would not BEGIN before DDL), see `on_begin`.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    for pragma in (
        "foreign_keys=ON",
        "journal_mode=WAL",
        "synchronous=NORMAL",
        f"busy_timeout={BUSY_TIMEOUT_MS}",
    ):
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


def on_begin(connection: Connection) -> None:
    read_only = connection.get_execution_options().get(READ_ONLY, False)
    connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


async def allow_writes(connection: AsyncConnection) -> None:
    """Let a request that runs on the reader write (a GET that links a Better Auth user seen for
    the first time): on SQLite its read transaction ends here and the next statement begins an
    IMMEDIATE one, which waits for the write lock like every other writer. Elsewhere (and on a
    connection that writes already) it does nothing."""
    sync = connection.sync_connection
    if sync is None or not sync.get_execution_options().get(READ_ONLY):
        return
    if connection.in_transaction():
        await connection.commit()
    await connection.execution_options(**{READ_ONLY: False})


def is_unavailable_error(error: sqlite3.Error) -> bool:
    """Whether the driver's error says "busy or unreachable" rather than "wrong statement"."""
    code = getattr(error, "sqlite_errorcode", None)
    return code is not None and code & 0xFF in UNAVAILABLE_CODES
