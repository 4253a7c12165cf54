"""The tools' arguments, described for a model that fills them in. The task members are the REST
bodies (`TaskCreate`, `TaskPatch`) with the same validation. Two differences in the schema only: the
time zone is a string with examples instead of the REST schema's enum of ~600 zone names (which
every call would carry), and TaskCreate's if/then rules (due_time and recurrence need due_date)
are said in words, which every client's schema subset understands."""

import uuid
from typing import Annotated, Literal

from pydantic import ConfigDict, Field, StrictBool, WithJsonSchema
from pydantic.json_schema import SkipJsonSchema

from app.tasks.fields import DueDate, DueTime, IanaZone, RemindAt, Rule, TagList, TagName
from app.tasks.models import Priority
from app.tasks.schemas import Description, SearchTerm, TaskCreate, TaskPatch, TaskSort, Title

# Validated as on the REST API: a name tzdata knows.
Zone = Annotated[
    IanaZone,
    WithJsonSchema(
        {
            "type": "string",
            "maxLength": 64,
            "examples": ["Europe/Paris", "America/New_York", "Asia/Tokyo"],
        }
    ),
]

TITLE = "What is to be done, in one line (1-200 characters)."
DESCRIPTION = "Notes, up to 5000 characters."
PRIORITY = "High, Medium or Low."
DUE_DATE = "The day the task is due, YYYY-MM-DD."
DUE_TIME = "Wall-clock time on `due_date`, HH:MM (24-hour), in `time_zone`. Needs `due_date`."
TIME_ZONE = (
    "The IANA time zone name of `due_date`/`due_time`, such as `Europe/Paris` (not an "
    "abbreviation like CET, not an offset). Left out or null: the user's own zone, which the "
    "task then follows when the user moves."
)
RECURRENCE = (
    "How the task repeats: an RFC 5545 RRULE such as `FREQ=DAILY`, `FREQ=WEEKLY;BYDAY=MO,WE,FR` "
    "or `FREQ=MONTHLY;BYMONTHDAY=-1` (the last day of each month); FREQ from DAILY to YEARLY, "
    "without BYHOUR/BYMINUTE/BYSECOND (the time is `due_time`). Needs `due_date`, the first "
    "occurrence. Completing the task records the occurrence and moves the task to the next one."
)
REMIND_AT = (
    "When to remind the user: a date-time with a UTC offset, such as "
    "`2026-03-09T08:45:00-04:00` or `2026-03-09T12:45:00Z`."
)
TAGS = (
    "Short labels such as `work` or `errands` (each 1-50 characters, at most 20); tags that "
    "differ only in case are one tag."
)


class NewTask(TaskCreate):
    """A task to create: only `title` is required."""

    model_config = ConfigDict(json_schema_extra=None)

    title: Annotated[Title, Field(description=TITLE)]
    description: Annotated[Description | None, Field(description=DESCRIPTION)] = None
    priority: Annotated[Priority, Field(description=PRIORITY)] = Priority.MEDIUM
    completed: Annotated[StrictBool, Field(description="Whether it is done already.")] = False
    due_date: Annotated[DueDate | None, Field(description=DUE_DATE)] = None
    due_time: Annotated[
        DueTime | None, Field(description=DUE_TIME + " Left out: due all day.", examples=["09:30"])
    ] = None
    time_zone: Annotated[Zone | None, Field(description=TIME_ZONE)] = None
    recurrence: Annotated[Rule | None, Field(description=RECURRENCE)] = None
    remind_at: Annotated[RemindAt | None, Field(description=REMIND_AT)] = None
    tags: Annotated[TagList, Field(description=TAGS)] = []


class TaskChanges(TaskPatch):
    """The members to change; those left out stay as they are."""

    title: Annotated[Title | SkipJsonSchema[None], Field(description=TITLE)] = None
    description: Annotated[
        Description | None, Field(description=DESCRIPTION + " null clears them.")
    ] = None
    priority: Annotated[Priority | SkipJsonSchema[None], Field(description=PRIORITY)] = None
    completed: Annotated[
        StrictBool | SkipJsonSchema[None],
        Field(description="true: done (see `complete_task` for a recurring task); false: open."),
    ] = None
    due_date: Annotated[
        DueDate | None,
        Field(description=DUE_DATE + " null removes it (send due_time and recurrence null too)."),
    ] = None
    due_time: Annotated[
        DueTime | None, Field(description=DUE_TIME + " null: due all day.", examples=["09:30"])
    ] = None
    time_zone: Annotated[Zone | None, Field(description=TIME_ZONE)] = None
    recurrence: Annotated[
        Rule | None, Field(description=RECURRENCE + " null: it no longer repeats.")
    ] = None
    remind_at: Annotated[RemindAt | None, Field(description=REMIND_AT + " null: no reminder.")] = (
        None
    )
    tags: Annotated[
        TagList | SkipJsonSchema[None], Field(description=TAGS + " Replaces the whole list.")
    ] = None


# --- the other arguments -------------------------------------------------------------------

TaskId = Annotated[uuid.UUID, Field(description="The task's `id` (a UUID), as listed.")]
ExpectedVersion = Annotated[
    int | None,
    Field(
        ge=1,
        description="Optional: the task's `version` as you last read it. The change is made "
        "only if nobody changed the task since; otherwise nothing changes and the error gives "
        "the current version.",
    ),
]

# list_tasks: the listing's filters (`TaskQuery` validates them again, as for the REST route).
Status = Annotated[
    Literal["all", "active", "completed"],
    Field(description="`active`: open tasks only; `completed`: done ones only; `all`: both."),
]
Search = Annotated[
    SearchTerm | None,
    Field(description="Case-insensitive text to find in the title, description or tags."),
]
PriorityFilter = Annotated[Priority | None, Field(description="Only tasks of this priority.")]
TagFilter = Annotated[
    list[TagName],
    Field(description="Only tasks carrying every one of these tags (any case)."),
]
DueAfter = Annotated[
    DueDate | None, Field(description="Only tasks due on or after this day, YYYY-MM-DD.")
]
DueBefore = Annotated[
    DueDate | None, Field(description="Only tasks due on or before this day, YYYY-MM-DD.")
]
HasDue = Annotated[
    bool | None, Field(description="true: only tasks with a due date; false: only those without.")
]
Overdue = Annotated[
    bool | None,
    Field(description="true: only open tasks whose due time has passed; false: all the others."),
]
SeriesId = Annotated[
    uuid.UUID | None,
    Field(description="A recurring task's `id`: only the completed occurrences of that task."),
]
Sort = Annotated[
    TaskSort,
    Field(
        description="The order: a field, descending with a leading `-`. `due`: soonest due "
        "first, tasks without a due date last; `priority`: High first."
    ),
]
Page = Annotated[int, Field(ge=1, le=1_000_000, description="Which page, from 1.")]
Limit = Annotated[int, Field(ge=1, le=100, description="Tasks per page, at most 100.")]

ListIds = Annotated[
    list[uuid.UUID], Field(description="Only tasks in these lists (ids from `list_lists`).")
]
ParentFilter = Annotated[
    uuid.UUID | None, Field(description="Only the direct subtasks of this task.")
]
TopLevel = Annotated[bool | None, Field(description="true: only tasks that are not subtasks.")]
Assignee = Annotated[
    Literal["me"] | uuid.UUID | None,
    Field(description="`me` or a user id: only tasks assigned to them."),
]
