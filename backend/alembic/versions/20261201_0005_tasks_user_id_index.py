"""tasks: an index on (user_id, id) for the full delta sync

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 07:00:00

A sync without a cursor pages through the user's tasks by id (`WHERE user_id = ? AND id > ?
ORDER BY id LIMIT ?`). Without this index a user with 50,000 tasks had each page sorted from
all of them, or found by walking the primary key across every user's tasks.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_tasks_user_id", "tasks", ["user_id", "id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_tasks_user_id", table_name="tasks")
