"""Request and response models of the task routes."""

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, field_validator
from pydantic.json_schema import SkipJsonSchema

from app.core.validation import NO_NUL, NOT_BLANK, Body, Storable, bounded
from app.tasks.models import Priority

Title = Annotated[str, bounded(strip=True, min_length=1, max_length=200), Storable, NOT_BLANK]
Description = Annotated[str, bounded(max_length=5000), Storable, NO_NUL]
SearchTerm = Annotated[str, bounded(max_length=200), Storable, NO_NUL]


class TaskCreate(Body):
    title: Title
    description: Description | None = None
    priority: Priority = Priority.MEDIUM
    completed: StrictBool = False


class TaskUpdate(TaskCreate):
    """PUT: the whole task; what is left out goes back to its default."""


class TaskPatch(Body):
    """PATCH: only the members sent change; `description` alone may be set to null."""

    # Optional but not nullable: the schema must not offer null where `_not_null` refuses it.
    title: Title | SkipJsonSchema[None] = None
    description: Description | None = None
    priority: Priority | SkipJsonSchema[None] = None
    completed: StrictBool | SkipJsonSchema[None] = None

    @field_validator("title", "priority", "completed")
    @classmethod
    def _not_null(cls, value: object) -> object:
        if value is None:
            raise ValueError("may not be null")
        return value


class TaskPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    user_id: uuid.UUID
    title: str
    description: str | None
    completed: bool
    priority: Priority
    created_at: datetime
    updated_at: datetime


TaskSort = Literal[
    "created_at",
    "-created_at",
    "updated_at",
    "-updated_at",
    "priority",
    "-priority",
    "title",
    "-title",
]


class TaskQuery(BaseModel):
    status: Literal["all", "active", "completed"] = "all"
    search: SearchTerm | None = None
    priority: Priority | None = None
    sort: TaskSort = "-created_at"
    page: int = Field(1, ge=1, le=1_000_000)
    limit: int = Field(20, ge=1, le=100)
