"""revoked Better Auth tokens; the credential behind an event ticket

Revision ID: 0011
Revises: 0008
Create Date: 2026-12-07 23:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "revoked_tokens",
        sa.Column("token_key", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("token_key", name=op.f("pk_revoked_tokens")),
    )
    op.create_index(
        op.f("ix_revoked_tokens_expires_at"), "revoked_tokens", ["expires_at"], unique=False
    )
    # Nullable, no default: instant on PostgreSQL whatever the table's size.
    with op.batch_alter_table("event_tickets") as batch:
        batch.add_column(sa.Column("credential", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("credential_id", sa.String(length=64), nullable=True))
        batch.add_column(
            sa.Column("credential_expires_at", sa.DateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("event_tickets") as batch:
        batch.drop_column("credential_expires_at")
        batch.drop_column("credential_id")
        batch.drop_column("credential")
    op.drop_index(op.f("ix_revoked_tokens_expires_at"), table_name="revoked_tokens")
    op.drop_table("revoked_tokens")
