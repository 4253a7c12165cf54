"""Request and response models of the webhook routes."""

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, field_validator
from pydantic.json_schema import SkipJsonSchema

from app.core.validation import NO_NUL, Body, Storable, bounded
from app.integrations.events import ALL_EVENTS, EVENT_TYPES, EventType

Url = Annotated[str, bounded(strip=True, min_length=1, max_length=2000), Storable, NO_NUL]
Description = Annotated[str, bounded(max_length=500), Storable, NO_NUL]
EventList = Annotated[
    list[EventType | Literal["*"]],
    Field(
        min_length=1,
        max_length=len(EVENT_TYPES),
        description='`["*"]` (every event) alone, or event names.',
        examples=[["task.completed", "task.created"], ["*"]],
    ),
]


def _check_events(events: list[str] | None) -> list[str] | None:
    if events is None:
        return None
    events = list(dict.fromkeys(events))  # each once, in the order given
    if ALL_EVENTS in events and len(events) > 1:
        raise ValueError('"*" stands alone: it already means every event')
    return events


class WebhookCreate(Body):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "url": "https://hooks.example.com/todo",
                    "events": ["task.completed"],
                    "description": "Tell the team chat",
                }
            ]
        }
    )

    url: Url
    events: EventList
    description: Description | None = None

    _events = field_validator("events")(_check_events)


class WebhookPatch(Body):
    """Only the members sent change."""

    url: Url | SkipJsonSchema[None] = None
    events: EventList | SkipJsonSchema[None] = None
    description: Description | None = None
    enabled: StrictBool | SkipJsonSchema[None] = None

    _events = field_validator("events")(_check_events)

    @field_validator("url", "events", "enabled")
    @classmethod
    def _not_null(cls, value: object) -> object:
        if value is None:
            raise ValueError("may not be null")
        return value


class WebhookPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    url: str
    events: list[str]
    description: str | None
    enabled: bool
    disabled_reason: str | None = Field(
        description="Why the service disabled the endpoint (a 410, or 5 days of failures); "
        "null while enabled or when its owner disabled it."
    )
    created_at: datetime


class WebhookCreated(WebhookPublic):
    secret: str = Field(
        description="The signing secret (`whsec_…`): shown this once.",
        examples=["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
    )


class WebhookSecret(BaseModel):
    secret: str = Field(
        description="The new signing secret, shown this once. For 24 hours deliveries carry a "
        "signature with the old secret too.",
        examples=["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
    )


class DeliveryPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID = Field(description="Also the `webhook-id` header of every attempt.")
    event: str
    status: Literal["pending", "succeeded", "failed"]
    attempts: int
    last_status_code: int | None
    last_error: str | None
    next_attempt_at: datetime | None
    created_at: datetime


class Accepted(BaseModel):
    """202: queued; the delivery log shows how it went."""

    delivery_id: uuid.UUID
