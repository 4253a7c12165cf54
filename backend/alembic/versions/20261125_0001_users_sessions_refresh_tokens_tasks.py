"""users sessions refresh tokens tasks

Revision ID: 0001
Revises:
Create Date: 2026-11-25 00:56:28.986970
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("password_hash", sa.String(length=100), nullable=True),
        sa.Column("external_issuer", sa.String(length=255), nullable=True),
        sa.Column("external_subject", sa.String(length=255), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint(
            "external_issuer", "external_subject", name="uq_users_external_identity"
        ),
    )
    op.create_index(
        "uq_users_local_email",
        "users",
        ["email"],
        unique=True,
        postgresql_where=sa.text("external_subject IS NULL"),
        sqlite_where=sa.text("external_subject IS NULL"),
    )

    op.create_table(
        "auth_sessions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_auth_sessions_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_auth_sessions")),
    )
    op.create_index(op.f("ix_auth_sessions_user_id"), "auth_sessions", ["user_id"], unique=False)

    op.create_table(
        "tasks",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("completed", sa.Boolean(), nullable=False),
        sa.Column("priority", sa.SmallInteger(), nullable=False),
        sa.Column("search_text", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("priority IN (1, 2, 3)", name=op.f("ck_tasks_priority_rank")),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_tasks_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tasks")),
    )
    op.create_index("ix_tasks_user_created", "tasks", ["user_id", "created_at", "id"], unique=False)
    op.create_index("ix_tasks_user_priority", "tasks", ["user_id", "priority", "id"], unique=False)
    op.create_index("ix_tasks_user_title", "tasks", ["user_id", "title", "id"], unique=False)
    op.create_index("ix_tasks_user_updated", "tasks", ["user_id", "updated_at", "id"], unique=False)

    op.create_table(
        "refresh_tokens",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("session_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["auth_sessions.id"],
            name=op.f("fk_refresh_tokens_session_id_auth_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_refresh_tokens")),
    )
    op.create_index(
        op.f("ix_refresh_tokens_session_id"), "refresh_tokens", ["session_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_refresh_tokens_session_id"), table_name="refresh_tokens")

    op.drop_table("refresh_tokens")
    op.drop_index("ix_tasks_user_updated", table_name="tasks")
    op.drop_index("ix_tasks_user_title", table_name="tasks")
    op.drop_index("ix_tasks_user_priority", table_name="tasks")
    op.drop_index("ix_tasks_user_created", table_name="tasks")

    op.drop_table("tasks")
    op.drop_index(op.f("ix_auth_sessions_user_id"), table_name="auth_sessions")

    op.drop_table("auth_sessions")
    op.drop_index(
        "uq_users_local_email",
        table_name="users",
        postgresql_where=sa.text("external_subject IS NULL"),
        sqlite_where=sa.text("external_subject IS NULL"),
    )

    op.drop_table("users")
