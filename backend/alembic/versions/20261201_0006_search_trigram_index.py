"""tasks: a trigram index (pg_trgm, btree_gin) for search, on PostgreSQL

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
"""

from collections.abc import Sequence

from alembic import op

from app.tasks.search_index import create_trigram_index, drop_trigram_index

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_trigram_index(op.get_bind())


def downgrade() -> None:
    drop_trigram_index(op.get_bind())
