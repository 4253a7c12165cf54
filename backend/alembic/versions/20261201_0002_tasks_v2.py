"""tasks v2: due dates and zones, recurrence, reminders, tags, versions; users' time zone

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 03:20:00

Every existing row is kept: the new columns are nullable or have a server default (a v1 task
has no due date, no rule, no tags and version 1; a v1 user's zone is UTC).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(
            sa.Column("time_zone", sa.String(length=64), server_default="UTC", nullable=False)
        )

    with op.batch_alter_table("tasks") as batch:
        batch.add_column(sa.Column("due_date", sa.Date(), nullable=True))
        batch.add_column(sa.Column("due_time", sa.Time(), nullable=True))
        batch.add_column(sa.Column("time_zone", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("due_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("recurrence", sa.String(length=500), nullable=True))
        batch.add_column(sa.Column("recurrence_anchor", sa.Date(), nullable=True))
        batch.add_column(sa.Column("remind_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("reminded_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("series_id", sa.Uuid(), nullable=True))
        batch.add_column(
            sa.Column("tags", sa.JSON(), server_default=sa.text("'[]'"), nullable=False)
        )
        batch.add_column(
            sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False)
        )
    op.create_index("ix_tasks_user_due", "tasks", ["user_id", "due_at", "id"], unique=False)
    if op.get_context().dialect.name == "postgresql":
        op.create_index(
            "ix_tasks_user_due_desc",
            "tasks",
            ["user_id", sa.text("due_at DESC NULLS LAST"), sa.text("id DESC")],
            unique=False,
        )
    op.create_index(
        "ix_tasks_pending_reminders",
        "tasks",
        ["remind_at"],
        unique=False,
        postgresql_where=sa.text("reminded_at IS NULL AND NOT completed"),
        sqlite_where=sa.text("reminded_at IS NULL AND completed = 0"),
    )

    op.create_table(
        "tags",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("name_key", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_tags_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tags")),
        sa.UniqueConstraint("user_id", "name_key", name="uq_tags_user_name_key"),
    )
    op.create_table(
        "task_tags",
        sa.Column("task_id", sa.Uuid(), nullable=False),
        sa.Column("tag_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tag_id"], ["tags.id"], name=op.f("fk_task_tags_tag_id_tags"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["task_id"], ["tasks.id"], name=op.f("fk_task_tags_task_id_tasks"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("task_id", "tag_id", name=op.f("pk_task_tags")),
    )
    op.create_index("ix_task_tags_tag_task", "task_tags", ["tag_id", "task_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_task_tags_tag_task", table_name="task_tags")
    op.drop_table("task_tags")
    op.drop_table("tags")
    op.drop_index(
        "ix_tasks_pending_reminders",
        table_name="tasks",
        postgresql_where=sa.text("reminded_at IS NULL AND NOT completed"),
        sqlite_where=sa.text("reminded_at IS NULL AND completed = 0"),
    )
    if op.get_context().dialect.name == "postgresql":
        op.drop_index("ix_tasks_user_due_desc", table_name="tasks")
    op.drop_index("ix_tasks_user_due", table_name="tasks")
    with op.batch_alter_table("tasks") as batch:
        for column in (
            "version",
            "tags",
            "series_id",
            "reminded_at",
            "remind_at",
            "recurrence_anchor",
            "recurrence",
            "due_at",
            "time_zone",
            "due_time",
            "due_date",
        ):
            batch.drop_column(column)
    with op.batch_alter_table("users") as batch:
        batch.drop_column("time_zone")
