"""Request and response models of the calendar feed routes."""

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field

from app.core.validation import NOT_BLANK, Body, Storable, bounded

FeedName = Annotated[str, bounded(strip=True, min_length=1, max_length=100), Storable, NOT_BLANK]
DEFAULT_NAME = "Tasks"
MAX_LIST_IDS = 100


class CalendarFeedCreate(Body):
    name: FeedName = Field(
        DEFAULT_NAME, description="The calendar's name in the subscriber's calendar app."
    )
    list_ids: list[uuid.UUID] | None = Field(
        None,
        min_length=1,
        max_length=MAX_LIST_IDS,
        description="Only the tasks of these lists (each one the caller can see, else 404 "
        "`list_not_found`); left out or null: every list the caller can see.",
    )
    include_completed: bool = Field(False, description="Also show completed tasks.")


class CalendarFeedPublic(BaseModel):
    """A calendar feed as listed: never its URL, which holds the secret token."""

    id: uuid.UUID
    name: str
    list_ids: list[uuid.UUID] | None
    include_completed: bool
    created_at: datetime


class CalendarFeedCreated(CalendarFeedPublic):
    url: str = Field(
        description="The feed's address (`GET`, no other authentication), shown only in this "
        "response: the token in it is stored hashed. Anyone with it can read the feed.",
        examples=["https://todo.example.com/api/calendar/cal_3q2…Zx.ics"],
    )
    webcal_url: str = Field(
        description="The same address with the `webcal://` scheme, which opens the calendar "
        "app's subscribe dialog.",
        examples=["webcal://todo.example.com/api/calendar/cal_3q2…Zx.ics"],
    )
