"""PostgreSQL's trigram index for `search` (pg_trgm): `search_text LIKE '%term%'` on one
user's tasks stays an index lookup however many tasks there are. SQLite keeps the plain scan.

The index is not in the models' metadata: its operator class lives in whichever schema the
pg_trgm extension was installed in, so it is created here, by migration 0006 and, for
`metadata.create_all` (the tests), when the tasks table is created.
"""

import logging

from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

TRIGRAM_INDEX = "ix_tasks_search_trgm"

logger = logging.getLogger(__name__)

_EXTENSION_SCHEMA = text(
    "SELECT n.nspname FROM pg_extension AS e JOIN pg_namespace AS n ON n.oid = e.extnamespace"
    " WHERE e.extname = 'pg_trgm'"
)


def _trigram_schema(connection: Connection) -> str | None:
    """The schema of pg_trgm, installing the extension if it is not there (a savepoint keeps a
    refusal from aborting the migration); None when the role may not install it."""
    schema = connection.scalar(_EXTENSION_SCHEMA)
    if schema is not None:
        return str(schema)
    try:
        with connection.begin_nested():
            connection.execute(text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
    except DBAPIError as error:
        logger.warning(
            "pg_trgm could not be installed (%s): search scans each user's tasks. A role that "
            "may can install it and add the index: CREATE EXTENSION pg_trgm; "
            "CREATE INDEX %s ON tasks USING gin (search_text gin_trgm_ops)",
            error.orig,
            TRIGRAM_INDEX,
        )
        return None
    schema = connection.scalar(_EXTENSION_SCHEMA)
    return None if schema is None else str(schema)


def create_trigram_index(connection: Connection) -> bool:
    """On PostgreSQL, the GIN trigram index on `tasks.search_text`, the very expression the list's
    `search` filter matches with LIKE. Returns whether the index exists now."""
    if connection.dialect.name != "postgresql":
        return False
    schema = _trigram_schema(connection)
    if schema is None:
        return False
    opclass = '"' + schema.replace('"', '""') + '".gin_trgm_ops'
    connection.execute(
        text(
            f"CREATE INDEX IF NOT EXISTS {TRIGRAM_INDEX} ON tasks USING gin (search_text {opclass})"
        )
    )
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
