"""auth_sessions: indexes for the session clean-up, built CONCURRENTLY on PostgreSQL

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 23:20:00

The hourly clean-up (app/accounts/cleanup.py) looks for sessions that expired or were revoked
more than 30 days ago: `expires_at < ? OR revoked_at < ?`. Without an index each run read the
whole auth_sessions table, a row per sign-in ever made. One index per side of the OR (the
revoked one partial: most sessions are never revoked); both planners combine them.

NOT IN A TRANSACTION on PostgreSQL: the indexes are built CONCURRENTLY, so that signing in
(which inserts sessions) goes on while they are built; PostgreSQL allows that only outside a
transaction, so this migration commits what ran before it and builds them on their own
(`outside_transaction`, app/core/concurrent_ddl.py). A build interrupted half-way is redone by
a rerun.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.core.concurrent_ddl import outside_transaction

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

EXPIRES = "ix_auth_sessions_expires_at"
REVOKED = "ix_auth_sessions_revoked_at"
REVOKED_ONLY = sa.text("revoked_at IS NOT NULL")


def upgrade() -> None:
    with outside_transaction(EXPIRES, REVOKED):
        op.create_index(
            EXPIRES,
            "auth_sessions",
            ["expires_at"],
            if_not_exists=True,
            postgresql_concurrently=True,
        )
        op.create_index(
            REVOKED,
            "auth_sessions",
            ["revoked_at"],
            if_not_exists=True,
            postgresql_concurrently=True,
            postgresql_where=REVOKED_ONLY,
            sqlite_where=REVOKED_ONLY,
        )


def downgrade() -> None:
    op.drop_index(REVOKED, table_name="auth_sessions")
    op.drop_index(EXPIRES, table_name="auth_sessions")
