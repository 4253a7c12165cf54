"""Every table, imported in one place so that `Base.metadata` knows them all (Alembic, tests)."""

from app.accounts.models import AuthSession, PersonalAccessToken, RefreshToken, User
from app.core.models import Base
from app.integrations.calendar_models import CalendarFeed
from app.integrations.models import Webhook, WebhookDelivery
from app.lists.models import ListMember, TaskList
from app.sync.models import EventTicket, IdempotencyKey, TaskChange
from app.tasks.models import Task

__all__ = [
    "AuthSession",
    "Base",
    "CalendarFeed",
    "EventTicket",
    "IdempotencyKey",
    "ListMember",
    "PersonalAccessToken",
    "RefreshToken",
    "Task",
    "TaskChange",
    "TaskList",
    "User",
    "Webhook",
    "WebhookDelivery",
]
