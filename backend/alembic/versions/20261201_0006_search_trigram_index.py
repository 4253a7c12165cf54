"""tasks: a trigram index (pg_trgm) for search, on PostgreSQL

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 07:05:00

`search` is `search_text LIKE '%term%'`; a GIN trigram index on that very column answers it
without reading each of the user's tasks. It installs pg_trgm when it is missing: a trusted
extension since PostgreSQL 13, so a role that may create objects in the database may install it
(Neon's owner role may). When the role may not, the migration logs a warning and goes on:
search still works, by scanning. A no-op on SQLite, which keeps the plain scan.
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
