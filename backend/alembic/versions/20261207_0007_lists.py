"""lists, list members, subtasks and manual order; list entries in the change log

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 23:00:00

Every existing row is kept. Each user gets an Inbox (their one list, owned by them) holding all
their tasks, in manual order by `created_at` (then id); tasks get no parent, no assignee and no
comments. The change log's entries are all task entries. The sort indexes move from the
creator (`user_id`) to the list (`list_id`), which is what every read now filters by.
"""

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from app.lists.positions import spread

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

POSITION = sa.String(255).with_variant(sa.String(255, collation="C"), "postgresql")
OLD_INDEXES = {
    "ix_tasks_user_created": ["user_id", "created_at", "id"],
    "ix_tasks_user_updated": ["user_id", "updated_at", "id"],
    "ix_tasks_user_priority": ["user_id", "priority", "id"],
    "ix_tasks_user_title": ["user_id", "title", "id"],
    "ix_tasks_user_due": ["user_id", "due_at", "id"],
}
NEW_INDEXES = {
    "ix_tasks_list_created": ["list_id", "created_at", "id"],
    "ix_tasks_list_updated": ["list_id", "updated_at", "id"],
    "ix_tasks_list_priority": ["list_id", "priority", "id"],
    "ix_tasks_list_title": ["list_id", "title", "id"],
    "ix_tasks_list_id": ["list_id", "id"],
    "ix_tasks_list_parent_position": ["list_id", "parent_id", "position"],
    "ix_tasks_parent": ["parent_id"],
    "ix_tasks_assignee": ["assignee_id"],
    "ix_tasks_list_due": ["list_id", "due_at", "id"],
}
BATCH = 1000


def upgrade() -> None:
    postgres = op.get_context().dialect.name == "postgresql"
    op.create_table(
        "lists",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("color", sa.String(length=7), nullable=True),
        sa.Column("inbox_of", sa.Uuid(), nullable=True),
        sa.Column("archived", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.ForeignKeyConstraint(
            ["inbox_of"], ["users.id"], name=op.f("fk_lists_inbox_of_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lists")),
        sa.UniqueConstraint("inbox_of", name=op.f("uq_lists_inbox_of")),
    )
    op.create_table(
        "list_members",
        sa.Column("list_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("role", sa.String(length=10), nullable=False),
        sa.Column("position", POSITION, nullable=False),
        sa.Column("joined_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "role IN ('owner', 'editor', 'viewer')", name=op.f("ck_list_members_role")
        ),
        sa.ForeignKeyConstraint(
            ["list_id"],
            ["lists.id"],
            name=op.f("fk_list_members_list_id_lists"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_list_members_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("list_id", "user_id", name=op.f("pk_list_members")),
    )
    op.create_index(
        "uq_list_members_owner",
        "list_members",
        ["list_id"],
        unique=True,
        postgresql_where=sa.text("role = 'owner'"),
        sqlite_where=sa.text("role = 'owner'"),
    )
    op.create_index(
        "ix_list_members_user_position", "list_members", ["user_id", "position", "list_id"]
    )
    with op.batch_alter_table("task_changes") as batch:
        batch.add_column(
            sa.Column("entity", sa.String(length=8), server_default="task", nullable=False)
        )
    with op.batch_alter_table("tasks") as batch:
        batch.add_column(sa.Column("list_id", sa.Uuid(), nullable=True))
        batch.add_column(sa.Column("parent_id", sa.Uuid(), nullable=True))
        batch.add_column(sa.Column("position", POSITION, nullable=True))
        batch.add_column(sa.Column("assignee_id", sa.Uuid(), nullable=True))
        batch.add_column(
            sa.Column("comment_count", sa.Integer(), server_default=sa.text("0"), nullable=False)
        )

    _fill_inboxes()

    with op.batch_alter_table("tasks") as batch:
        batch.alter_column("list_id", existing_type=sa.Uuid(), nullable=False)
        batch.alter_column("position", existing_type=POSITION, nullable=False)
        batch.create_foreign_key(
            op.f("fk_tasks_list_id_lists"), "lists", ["list_id"], ["id"], ondelete="CASCADE"
        )
        batch.create_foreign_key(
            op.f("fk_tasks_parent_id_tasks"), "tasks", ["parent_id"], ["id"], ondelete="CASCADE"
        )
        batch.create_foreign_key(
            op.f("fk_tasks_assignee_id_users"),
            "users",
            ["assignee_id"],
            ["id"],
            ondelete="SET NULL",
        )
    if postgres:
        op.drop_index("ix_tasks_user_due_desc", table_name="tasks")
    for name in OLD_INDEXES:
        op.drop_index(name, table_name="tasks")
    for name, columns in NEW_INDEXES.items():
        op.create_index(name, "tasks", columns)
    if postgres:
        op.create_index(
            "ix_tasks_list_due_desc",
            "tasks",
            ["list_id", sa.text("due_at DESC NULLS LAST"), sa.text("id DESC")],
        )


def _fill_inboxes() -> None:
    """An Inbox per user, holding their tasks in `created_at` order."""
    bind = op.get_bind()
    users = sa.table("users", sa.column("id", sa.Uuid()))
    lists = sa.table(
        "lists",
        sa.column("id", sa.Uuid()),
        sa.column("name", sa.String()),
        sa.column("inbox_of", sa.Uuid()),
        sa.column("archived", sa.Boolean()),
        sa.column("created_at", sa.DateTime(timezone=True)),
        sa.column("updated_at", sa.DateTime(timezone=True)),
        sa.column("version", sa.Integer()),
    )
    members = sa.table(
        "list_members",
        sa.column("list_id", sa.Uuid()),
        sa.column("user_id", sa.Uuid()),
        sa.column("role", sa.String()),
        sa.column("position", sa.String()),
        sa.column("joined_at", sa.DateTime(timezone=True)),
    )
    tasks = sa.table(
        "tasks",
        sa.column("id", sa.Uuid()),
        sa.column("user_id", sa.Uuid()),
        sa.column("created_at", sa.DateTime(timezone=True)),
        sa.column("list_id", sa.Uuid()),
        sa.column("position", sa.String()),
    )
    now = datetime.now(UTC)
    if bind.dialect.name == "sqlite":
        now = now.replace(tzinfo=None)  # as app.core.models.UTCDateTime stores it there
    user_ids = list(bind.execute(sa.select(users.c.id).order_by(users.c.id)).scalars())
    inboxes = {user_id: uuid.uuid4() for user_id in user_ids}
    for start in range(0, len(user_ids), BATCH):
        chunk = user_ids[start : start + BATCH]
        bind.execute(
            lists.insert(),
            [
                {
                    "id": inboxes[u],
                    "name": "Inbox",
                    "inbox_of": u,
                    "archived": False,
                    "created_at": now,
                    "updated_at": now,
                    "version": 1,
                }
                for u in chunk
            ],
        )
        bind.execute(
            members.insert(),
            [
                {
                    "list_id": inboxes[u],
                    "user_id": u,
                    "role": "owner",
                    "position": "a0",
                    "joined_at": now,
                }
                for u in chunk
            ],
        )
    ordered = sa.select(tasks.c.id, tasks.c.user_id).order_by(
        tasks.c.user_id, tasks.c.created_at, tasks.c.id
    )
    rows = bind.execute(ordered).all()
    update = (
        tasks.update()
        .where(tasks.c.id == sa.bindparam("task_id"))
        .values(list_id=sa.bindparam("inbox"), position=sa.bindparam("key"))
    )
    batch: list[dict[str, object]] = []
    index = 0
    while index < len(rows):
        user_id = rows[index].user_id
        end = index
        while end < len(rows) and rows[end].user_id == user_id:
            end += 1
        for row, key in zip(rows[index:end], spread(end - index), strict=True):
            batch.append({"task_id": row.id, "inbox": inboxes[user_id], "key": key})
            if len(batch) >= BATCH:
                bind.execute(update, batch)
                batch = []
        index = end
    if batch:
        bind.execute(update, batch)


def downgrade() -> None:
    postgres = op.get_context().dialect.name == "postgresql"
    if postgres:
        op.drop_index("ix_tasks_list_due_desc", table_name="tasks")
    for name in NEW_INDEXES:
        op.drop_index(name, table_name="tasks")
    for name, columns in OLD_INDEXES.items():
        op.create_index(name, "tasks", columns)
    if postgres:
        op.create_index(
            "ix_tasks_user_due_desc",
            "tasks",
            ["user_id", sa.text("due_at DESC NULLS LAST"), sa.text("id DESC")],
        )
    with op.batch_alter_table("tasks") as batch:
        batch.drop_constraint(op.f("fk_tasks_assignee_id_users"), type_="foreignkey")
        batch.drop_constraint(op.f("fk_tasks_parent_id_tasks"), type_="foreignkey")
        batch.drop_constraint(op.f("fk_tasks_list_id_lists"), type_="foreignkey")
        for column in ("comment_count", "assignee_id", "position", "parent_id", "list_id"):
            batch.drop_column(column)
    with op.batch_alter_table("task_changes") as batch:
        batch.drop_column("entity")
    op.drop_index("ix_list_members_user_position", table_name="list_members")
    op.drop_index(
        "uq_list_members_owner",
        table_name="list_members",
        postgresql_where=sa.text("role = 'owner'"),
        sqlite_where=sa.text("role = 'owner'"),
    )
    op.drop_table("list_members")
    op.drop_table("lists")
