"""DDL that PostgreSQL runs only outside a transaction: `CREATE INDEX CONCURRENTLY` builds an
index while the table takes writes, where a plain CREATE INDEX blocks every write until the
index is built (minutes on a big table). A migration that does this says so in its docstring
and runs it inside `outside_transaction`; tests/test_concurrent_indexes.py holds it to that."""

from collections.abc import Iterator
from contextlib import contextmanager

from alembic import op
from sqlalchemy import text


def _drop_if_invalid(name: str) -> None:
    """A concurrent build that failed half-way leaves an INVALID index behind, which `IF NOT
    EXISTS` would then take for done: drop it so that a rerun builds it again."""
    invalid = op.get_bind().scalar(
        text(
            "SELECT NOT i.indisvalid FROM pg_index AS i"
            " JOIN pg_class AS c ON c.oid = i.indexrelid"
            " WHERE c.relname = :name AND c.relnamespace = current_schema()::regnamespace"
        ),
        {"name": name},
    )
    if invalid:
        op.execute(text(f"DROP INDEX CONCURRENTLY IF EXISTS {name}"))


@contextmanager
def outside_transaction(*index_names: str) -> Iterator[None]:
    """On PostgreSQL: commit what the migration run has done so far, run the block's
    statements each on its own (as CONCURRENTLY requires), then go on in a new transaction;
    `index_names` left INVALID by an interrupted run are dropped first. On SQLite (one writer
    at a time whatever the DDL) the block runs in the migration's transaction."""
    if op.get_bind().dialect.name != "postgresql":
        yield
        return
    with op.get_context().autocommit_block():
        for name in index_names:
            _drop_if_invalid(name)
        yield
