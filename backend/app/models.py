"""Every table, imported in one place so that `Base.metadata` knows them all (Alembic, tests)."""

from app.accounts.models import AuthSession, RefreshToken, User
from app.core.models import Base
from app.sync.models import EventTicket, IdempotencyKey, TaskChange
from app.tasks.models import Task

__all__ = [
    "AuthSession",
    "Base",
    "EventTicket",
    "IdempotencyKey",
    "RefreshToken",
    "Task",
    "TaskChange",
    "User",
]
