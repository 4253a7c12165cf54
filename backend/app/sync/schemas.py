"""Response models of delta sync and event tickets."""

import uuid

from pydantic import BaseModel, Field

from app.lists.schemas import ListPublic
from app.tasks.schemas import TaskPublic


class SyncPage(BaseModel):
    tasks: list[TaskPublic] = Field(
        description="Created or changed since the cursor (current state)."
    )
    deleted: list[uuid.UUID] = Field(description="Ids of tasks deleted since the cursor.")
    cursor: str = Field(description="Pass it back as `cursor` (or `Last-Event-ID`) next time.")
    has_more: bool = Field(description="More changes are waiting: call again with `cursor` now.")
    lists: list[ListPublic] = Field(
        [], description="Lists created or changed since the cursor (all of them without one)."
    )
    deleted_lists: list[uuid.UUID] = Field(
        [],
        description="Lists deleted or out of the caller's reach: drop them and their tasks.",
    )


class EventTicket(BaseModel):
    ticket: str = Field(description="For `GET /api/events?ticket=`: single use, bound to you.")
    expires_in: int = Field(description="Seconds the ticket stays valid.")
