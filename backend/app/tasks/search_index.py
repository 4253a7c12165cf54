"""PostgreSQL's trigram index for `search`: `user_id = ? AND search_text LIKE '%term%'` stays
an index lookup however many tasks the user has. SQLite keeps the plain scan.

A GIN index on (user_id, search_text) with pg_trgm's operator class for the text and
btree_gin's for the id: GIN intersects the user's short entry with the trigrams' long ones
without reading the long ones whole. A trigram index on search_text alone reads every user's
matches: measured with 1M tasks, a common word ("invoice", 80,000 tasks) cost a user with 100
tasks 80 ms instead of 1, and the user with 50,000 tasks 86 ms; the pair costs 2 and 14 ms.

The index is not in the models' metadata: its operator class lives in whichever schema the
pg_trgm extension was installed in, so it is created here, by migration 0006 and, for
`metadata.create_all` (the tests), when the tasks table is created. Migration 0006 builds it
CONCURRENTLY: on a big table a plain CREATE INDEX would block every write to tasks meanwhile.
"""

import logging

from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

TRIGRAM_INDEX = "ix_tasks_search_trgm"

logger = logging.getLogger(__name__)

_EXTENSION_SCHEMA = text(
    "SELECT n.nspname FROM pg_extension AS e JOIN pg_namespace AS n ON n.oid = e.extnamespace"
    " WHERE e.extname = :name"
)
EXTENSIONS = ("pg_trgm", "btree_gin")  # both trusted extensions since PostgreSQL 13


def _extension_schema(connection: Connection, name: str) -> str | None:
    """The schema of extension `name`, installing it if it is not there (a savepoint keeps a
    refusal from aborting the migration); None when the role may not install it."""
    schema = connection.scalar(_EXTENSION_SCHEMA, {"name": name})
    if schema is not None:
        return str(schema)
    try:
        with connection.begin_nested():
            connection.execute(text(f"CREATE EXTENSION IF NOT EXISTS {name}"))
    except DBAPIError as error:
        logger.warning(
            "%s could not be installed (%s): search scans each user's tasks. A role that may "
            "can install pg_trgm and btree_gin and add the index: CREATE INDEX %s ON tasks "
            "USING gin (user_id, search_text gin_trgm_ops)",
            name,
            error.orig,
            TRIGRAM_INDEX,
        )
        return None
    schema = connection.scalar(_EXTENSION_SCHEMA, {"name": name})
    return None if schema is None else str(schema)


def trigram_index_statement(connection: Connection, *, concurrently: bool = False) -> str | None:
    """On PostgreSQL, the statement that builds the GIN index on (`tasks.user_id`,
    `tasks.search_text`), the very column the list's `search` filter matches with LIKE,
    installing the extensions it needs first; None where it cannot be built. `concurrently`
    builds it without blocking writes, which PostgreSQL allows only outside a transaction."""
    if connection.dialect.name != "postgresql":
        return None
    schemas = [_extension_schema(connection, name) for name in EXTENSIONS]
    if None in schemas:
        return None
    opclass = '"' + str(schemas[0]).replace('"', '""') + '".gin_trgm_ops'
    how = "CONCURRENTLY " if concurrently else ""
    return (
        f"CREATE INDEX {how}IF NOT EXISTS {TRIGRAM_INDEX} ON tasks"
        f" USING gin (user_id, search_text {opclass})"
    )


def create_trigram_index(connection: Connection) -> bool:
    """The index, built in the connection's transaction (a new or restored table: nothing to
    block). Returns whether the index exists now."""
    statement = trigram_index_statement(connection)
    if statement is None:
        return False
    connection.execute(text(statement))
    return True


def drop_trigram_index(connection: Connection) -> None:
    """Drops the index, not the extension: something else may use it."""
    if connection.dialect.name == "postgresql":
        connection.execute(text(f"DROP INDEX IF EXISTS {TRIGRAM_INDEX}"))


def is_modelled(
    _object: object, name: str | None, type_: str, reflected: bool, _compare_to: object
) -> bool:
    """Alembic's `include_object`: the trigram index is the schema's, not the models'."""
    return not (type_ == "index" and name == TRIGRAM_INDEX and reflected)
