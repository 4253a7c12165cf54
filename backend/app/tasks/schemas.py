"""Request and response models of the task and tag routes."""

import uuid
from collections.abc import Mapping
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    ValidationInfo,
    field_validator,
)
from pydantic.json_schema import SkipJsonSchema

from app.core.validation import NO_NUL, NOT_BLANK, Body, Storable, bounded
from app.tasks.fields import (
    MAX_TAGS,
    DueDate,
    DueTime,
    RemindAt,
    Rule,
    ShortTime,
    TagList,
    TagName,
    ZoneName,
)
from app.tasks.models import Priority

Title = Annotated[str, bounded(strip=True, min_length=1, max_length=200), Storable, NOT_BLANK]
Description = Annotated[str, bounded(max_length=5000), Storable, NO_NUL]
SearchTerm = Annotated[str, bounded(max_length=200), Storable, NO_NUL]


def _needs(member: str, requirement: str) -> dict[str, Any]:
    """JSON Schema: when `member` is a string, `requirement` must be one too."""
    return {
        "if": {"required": [member], "properties": {member: {"type": "string"}}},
        "then": {"required": [requirement], "properties": {requirement: {"type": "string"}}},
    }


class TaskCreate(Body):
    model_config = ConfigDict(
        json_schema_extra={
            "allOf": [_needs("due_time", "due_date"), _needs("recurrence", "due_date")]
        }
    )

    title: Title
    description: Description | None = None
    priority: Priority = Priority.MEDIUM
    completed: StrictBool = False
    due_date: DueDate | None = None
    due_time: DueTime | None = None
    time_zone: ZoneName | None = None
    recurrence: Rule | None = None
    remind_at: RemindAt | None = None
    tags: TagList = []
    list_id: uuid.UUID | None = Field(
        None, description="Default: the caller's Inbox, or with `parent_id` the parent's list."
    )
    parent_id: uuid.UUID | None = Field(None, description="A task in the same list (subtask).")
    assignee_id: uuid.UUID | None = Field(None, description="Null or a member of the list.")

    @field_validator("due_time", "recurrence")
    @classmethod
    def _needs_a_due_date(cls, value: object, info: ValidationInfo) -> object:
        # A due_date that failed validation has its own error; don't add a second one.
        if value is not None and "due_date" in info.data and info.data["due_date"] is None:
            raise ValueError("needs due_date")
        return value


class TaskUpdate(TaskCreate):
    """PUT: the whole task; what is left out goes back to its default, except `list_id`,
    `parent_id` and `assignee_id`, which stay as they are when left out."""


class TaskPatch(Body):
    """PATCH: only the members sent change; members that may be null can be cleared."""

    # Optional but not nullable: the schema must not offer null where `_not_null` refuses it.
    title: Title | SkipJsonSchema[None] = None
    description: Description | None = None
    priority: Priority | SkipJsonSchema[None] = None
    completed: StrictBool | SkipJsonSchema[None] = None
    due_date: DueDate | None = None
    due_time: DueTime | None = None
    time_zone: ZoneName | None = None
    recurrence: Rule | None = None
    remind_at: RemindAt | None = None
    tags: TagList | SkipJsonSchema[None] = None
    list_id: uuid.UUID | SkipJsonSchema[None] = Field(
        None, description="Move the task (and its subtasks) to the end of this list."
    )
    parent_id: uuid.UUID | None = Field(
        None, description="Move the task under this parent (null: the top level), at the end."
    )
    assignee_id: uuid.UUID | None = Field(None, description="Null or a member of the list.")

    @field_validator("title", "priority", "completed", "tags", "list_id")
    @classmethod
    def _not_null(cls, value: object) -> object:
        if value is None:
            raise ValueError("may not be null")
        return value


class TaskMove(Body):
    """Where to move the task: every member optional; at most one of `before_id`/`after_id`."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"after_id": "7d9f3c1e-2b4a-4c8e-9f10-5a6b7c8d9e0f"},
                {"list_id": "0b8e6f7a-1c2d-4e3f-8a9b-0c1d2e3f4a5b", "parent_id": None},
            ]
        }
    )

    list_id: uuid.UUID | SkipJsonSchema[None] = Field(
        None, description="The target list; left out: the task's list."
    )
    parent_id: uuid.UUID | None = Field(
        None,
        description="The new parent; null: the top level; left out: unchanged (a subtask "
        "moved to another list must name it).",
    )
    before_id: uuid.UUID | SkipJsonSchema[None] = Field(
        None, description="A sibling in the target: the task goes just before it."
    )
    after_id: uuid.UUID | SkipJsonSchema[None] = Field(
        None, description="A sibling in the target: the task goes just after it."
    )


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
    due_date: date | None
    due_time: ShortTime | None
    time_zone: str | None
    due_at: datetime | None = Field(
        description="When the task is due, in UTC (read-only): `due_date` + `due_time` in the "
        "zone; for an all-day task the first instant after that day. A wall time in a DST gap "
        "moves forward by the gap; one in a fold means its first occurrence."
    )
    recurrence: str | None
    remind_at: datetime | None
    reminded_at: datetime | None = Field(
        description="When the reminder was delivered (read-only); null until then."
    )
    tags: list[str]
    series_id: uuid.UUID | None = Field(
        description="For a completed occurrence of a recurring task: that task's id (read-only)."
    )
    version: int = Field(description="1 on create, +1 per write; the `ETag` is its quoted value.")
    list_id: uuid.UUID = Field(description="The list the task is in.")
    parent_id: uuid.UUID | None = Field(description="The parent task; null at the top level.")
    position: str = Field(
        description="Read-only, opaque: sort by it, as bytes, among the tasks of one list and "
        "parent (manual order).",
        examples=["a0"],
    )
    assignee_id: uuid.UUID | None = Field(description="A member of the task's list, or null.")
    comment_count: int = Field(description="Read-only: the number of comments on the task.")


TaskSort = Literal[
    "created_at",
    "-created_at",
    "updated_at",
    "-updated_at",
    "priority",
    "-priority",
    "title",
    "-title",
    "due",
    "-due",
    "position",
]


class TaskQuery(BaseModel):
    status: Literal["all", "active", "completed"] = "all"
    search: SearchTerm | None = Field(None, description="Matches title, description and tags.")
    priority: Priority | None = None
    sort: TaskSort = Field(
        "-created_at",
        description="`due`/`-due` sort by `due_at`; tasks without one come last. `position`: "
        "lists in the caller's sidebar order, then each list's manual order depth-first.",
    )
    page: int = Field(1, ge=1, le=1_000_000)
    limit: int = Field(20, ge=1, le=100)
    tag: list[TagName] = Field(
        [], max_length=MAX_TAGS, description="Tasks carrying every one of these tags (any case)."
    )
    due_after: DueDate | None = Field(None, description="`due_date` on or after this day.")
    due_before: DueDate | None = Field(None, description="`due_date` on or before this day.")
    has_due: bool | None = Field(None, description="Whether the task has a `due_date`.")
    overdue: bool | None = Field(
        None, description="true: open tasks whose `due_at` has passed; false: all others."
    )
    series_id: uuid.UUID | None = Field(
        None, description="The completed occurrences of one recurring task."
    )
    list_id: list[uuid.UUID] = Field(
        [],
        max_length=50,
        description="Only tasks in these lists (repeatable); a list the caller cannot see: 404.",
    )
    parent_id: uuid.UUID | None = Field(None, description="Only the direct subtasks of this task.")
    top_level: bool | None = Field(None, description="true: only tasks without a parent.")
    assignee: Literal["me"] | uuid.UUID | None = Field(
        None, description="`me` or a user id: only tasks assigned to them."
    )


def task_query_from(
    received: Mapping[str, str], tags: list[str] | None, list_ids: list[str] | None = None
) -> TaskQuery:
    """The list's query parameters validated in one pass (raises pydantic's ValidationError).

    Declared as `Annotated[TaskQuery, Query()]`, FastAPI would re-inspect each field's
    annotation on every request. As there, a repeated parameter counts with its last value
    (except `tag` and `list_id`, which repeat: `tags` and `list_ids` hold all of them, None
    when absent) and unknown
    parameters are ignored.
    """
    values: dict[str, Any] = {
        name: received[name] for name in TaskQuery.model_fields if name in received
    }
    if tags is not None:
        values["tag"] = tags
    if list_ids is not None:
        values["list_id"] = list_ids
    return TaskQuery.model_validate(values)


class TagPublic(BaseModel):
    name: str = Field(description="The tag, in the case first used.")
    count: int = Field(description="How many of the user's tasks carry it, completed included.")


class TagRename(Body):
    name: TagName
