"""tasks: a trigram index (pg_trgm, btree_gin) for search, on PostgreSQL, built CONCURRENTLY

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 07:05:00

`search` is `user_id = ? AND search_text LIKE '%term%'`; a GIN index on (user_id, search_text),
with pg_trgm's trigram operator class for the text and btree_gin's for the id, answers it
without reading each of the user's tasks, nor every user's matches (see
app/tasks/search_index.py for what a trigram index on the text alone cost). It installs both
extensions when they are missing: both are trusted since PostgreSQL 13, so a role that may
create objects in the database may install them (Neon's owner role may). When the role may
not, the migration logs a warning and goes on: search still works, by scanning the user's
tasks. A no-op on SQLite, which keeps the plain scan.

NOT IN A TRANSACTION: the index is built CONCURRENTLY, so that upgrading a big tasks table
does not block writes to it for the minutes the build takes; PostgreSQL allows that only
outside a transaction, so this migration commits what ran before it and builds the index on
its own (`outside_transaction`, app/core/concurrent_ddl.py). A build interrupted half-way is
redone by a rerun.
"""

from collections.abc import Sequence

from alembic import op
from sqlalchemy import text

from app.core.concurrent_ddl import outside_transaction
from app.tasks.search_index import TRIGRAM_INDEX, drop_trigram_index, trigram_index_statement

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The extensions are installed in the migration's transaction (a refusal is only a warning).
    statement = trigram_index_statement(op.get_bind(), concurrently=True)
    if statement is not None:
        with outside_transaction(TRIGRAM_INDEX):
            op.execute(text(statement))


def downgrade() -> None:
    drop_trigram_index(op.get_bind())
