"""The MCP tools: the caller's tasks through the same functions, validation and owner scoping as
the REST routes (no HTTP hop, no token forwarding). Failures come back as tool errors a model
can read and act on; another user's task is "not found", as everywhere."""

import uuid
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Annotated, Literal, TypeVar

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import ToolAnnotations
from pydantic import BaseModel, Field, ValidationError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.core.database import Database, is_unavailable
from app.core.errors import AppError, DatabaseUnavailable
from app.mcp.auth import current_caller
from app.tasks import service
from app.tasks.errors import InvalidField
from app.tasks.fields import TagName
from app.tasks.models import Priority
from app.tasks.schemas import (
    SearchTerm,
    TagPublic,
    TaskCreate,
    TaskPatch,
    TaskPublic,
    TaskQuery,
    TaskSort,
)

T = TypeVar("T")

TaskId = Annotated[uuid.UUID, Field(description="The task's id (a UUID), as listed.")]


class TaskPage(BaseModel):
    tasks: list[TaskPublic]
    total: int = Field(description="How many tasks match the filters, on all pages.")
    page: int
    limit: int
    has_more: bool = Field(description="Whether a later page has more matches.")


class TagList(BaseModel):
    tags: list[TagPublic]


class Deleted(BaseModel):
    deleted: uuid.UUID


READ_ONLY = ToolAnnotations(readOnlyHint=True, openWorldHint=False)
WRITE = ToolAnnotations(readOnlyHint=False, destructiveHint=False, openWorldHint=False)
IDEMPOTENT_WRITE = ToolAnnotations(
    readOnlyHint=False, destructiveHint=False, idempotentHint=True, openWorldHint=False
)
DESTRUCTIVE = ToolAnnotations(
    readOnlyHint=False, destructiveHint=True, idempotentHint=True, openWorldHint=False
)


class TaskTools:
    """The tools, bound to the service's database. Each call runs on one connection of its own:
    reads on the reader, writes in one transaction committed when the call succeeds."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def register(self, server: MCPServer) -> None:
        server.add_tool(self.list_tasks, title="List tasks", annotations=READ_ONLY)
        server.add_tool(self.get_task, title="Get a task", annotations=READ_ONLY)
        server.add_tool(self.create_task, title="Create a task", annotations=WRITE)
        server.add_tool(self.update_task, title="Update a task", annotations=IDEMPOTENT_WRITE)
        server.add_tool(self.complete_task, title="Complete a task", annotations=IDEMPOTENT_WRITE)
        server.add_tool(self.reopen_task, title="Reopen a task", annotations=IDEMPOTENT_WRITE)
        server.add_tool(self.delete_task, title="Delete a task", annotations=DESTRUCTIVE)
        server.add_tool(self.list_tags, title="List tags", annotations=READ_ONLY)

    async def list_tasks(
        self,
        status: Literal["all", "active", "completed"] = "all",
        search: Annotated[
            SearchTerm | None,
            Field(description="Case-insensitive text to find in the title, description or tags."),
        ] = None,
        priority: Priority | None = None,
        tag: Annotated[
            list[TagName], Field(description="Only tasks carrying every one of these tags.")
        ] = [],  # noqa: B006 - pydantic copies defaults
        due_after: Annotated[
            date | None, Field(description="Only tasks due on or after this day (YYYY-MM-DD).")
        ] = None,
        due_before: Annotated[
            date | None, Field(description="Only tasks due on or before this day (YYYY-MM-DD).")
        ] = None,
        has_due: Annotated[
            bool | None, Field(description="true: only tasks with a due date; false: without.")
        ] = None,
        overdue: Annotated[
            bool | None,
            Field(description="true: only open tasks whose due time has passed; false: the rest."),
        ] = None,
        series_id: Annotated[
            uuid.UUID | None,
            Field(description="Only the completed occurrences of this recurring task."),
        ] = None,
        sort: Annotated[
            TaskSort,
            Field(
                description="A field to sort by; a leading `-` sorts descending. `due` sorts by "
                "due time, tasks without one last."
            ),
        ] = "-created_at",
        page: Annotated[int, Field(ge=1, le=1_000_000)] = 1,
        limit: Annotated[int, Field(ge=1, le=100)] = 20,
    ) -> TaskPage:
        """List your tasks, newest first unless `sort` says otherwise, one page at a time.
        `status` is `active` for open tasks and `completed` for done ones; the other arguments
        narrow the list further. The result says how many tasks match in all (`total`) and
        whether another page follows (`has_more`)."""
        query = _validated(
            TaskQuery,
            status=status,
            search=search,
            priority=priority,
            tag=tag,
            due_after=due_after,
            due_before=due_before,
            has_due=has_due,
            overdue=overdue,
            series_id=series_id,
            sort=sort,
            page=page,
            limit=limit,
        )
        caller = current_caller()
        rows, total = await self._read(
            lambda connection: service.list_tasks(connection=connection, caller=caller, query=query)
        )
        return TaskPage(
            tasks=[TaskPublic.model_validate(row) for row in rows],
            total=total,
            page=query.page,
            limit=query.limit,
            has_more=query.page * query.limit < total,
        )

    async def get_task(self, task_id: TaskId) -> TaskPublic:
        """Get one of your tasks by its id."""
        caller = current_caller()
        task = await self._read(
            lambda connection: service.get_task(
                connection=connection, caller=caller, task_id=task_id
            )
        )
        return TaskPublic.model_validate(task)

    async def create_task(self, task: TaskCreate) -> TaskPublic:
        """Create a task. Only `title` is required; `priority` is `Medium` unless given.
        `due_date` (YYYY-MM-DD) with an optional `due_time` (HH:MM) is in `time_zone` (an IANA
        name; left out: the user's zone). `recurrence` is an RFC 5545 RRULE such as
        `FREQ=WEEKLY;BYDAY=MO` and needs a `due_date`; `remind_at` is an instant with a UTC
        offset; `tags` are short labels."""
        owner_id = current_caller().user_id
        created = await self._write(
            lambda connection: service.create_task(
                connection=connection, owner_id=owner_id, data=task
            )
        )
        return TaskPublic.model_validate(created)

    async def update_task(self, task_id: TaskId, changes: TaskPatch) -> TaskPublic:
        """Change some fields of a task: only the fields in `changes` are changed (send null to
        clear `description`, `due_date`, `due_time`, `time_zone`, `recurrence` or `remind_at`;
        `tags` replaces the whole list). Setting `completed` to true on a recurring task
        completes its current occurrence, as `complete_task` does. Returns the task as it is
        now."""
        return await self._patch(task_id, changes)

    async def complete_task(self, task_id: TaskId) -> TaskPublic:
        """Mark a task done. A recurring task instead records the occurrence as a completed
        copy and moves on to its next due date (it stays open); when its rule has no further
        date, it is simply completed. Returns the task as it is now."""
        return await self._patch(task_id, TaskPatch(completed=True))

    async def reopen_task(self, task_id: TaskId) -> TaskPublic:
        """Mark a done task as not done again. Returns the task as it is now."""
        return await self._patch(task_id, TaskPatch(completed=False))

    async def delete_task(self, task_id: TaskId) -> Deleted:
        """Delete a task for good (the completed copies of a recurring task stay)."""
        owner_id = current_caller().user_id
        await self._write(
            lambda connection: service.delete_task(
                connection=connection, owner_id=owner_id, task_id=task_id
            )
        )
        return Deleted(deleted=task_id)

    async def list_tags(self) -> TagList:
        """List the tags on your tasks and how many tasks carry each (completed ones
        included), by name."""
        owner_id = current_caller().user_id
        tags = await self._read(
            lambda connection: service.list_tags(connection=connection, owner_id=owner_id)
        )
        return TagList(tags=[TagPublic.model_validate(tag) for tag in tags])

    async def _patch(self, task_id: uuid.UUID, changes: TaskPatch) -> TaskPublic:
        owner_id = current_caller().user_id
        task = await self._write(
            lambda connection: service.patch_task(
                connection=connection, owner_id=owner_id, task_id=task_id, data=changes
            )
        )
        return TaskPublic.model_validate(task)

    async def _read(self, work: Callable[[AsyncConnection], Awaitable[T]]) -> T:
        return await self._run(work, self.database.reader)

    async def _write(self, work: Callable[[AsyncConnection], Awaitable[T]]) -> T:
        return await self._run(work, self.database.engine)

    async def _run(self, work: Callable[[AsyncConnection], Awaitable[T]], engine: AsyncEngine) -> T:
        """`work` on a connection of its own, as `get_connection` runs a request: committed
        when it succeeds, rolled back when it raises."""
        try:
            async with self.database.admitted(), engine.connect() as connection:
                result = await work(connection)
                if connection.in_transaction():
                    await connection.commit()
                return result
        except AppError as error:  # task not found, and the like
            raise ToolError(error.message) from None
        except InvalidField as error:  # valid alone, not for this task (e.g. needs due_date)
            raise ToolError(f"Invalid arguments: {error.field}: {error.message}") from None
        except Exception as exc:
            if is_unavailable(exc):
                raise ToolError(DatabaseUnavailable.detail) from None
            raise  # the SDK logs it and answers "Error executing tool", no details


ModelT = TypeVar("ModelT", bound=BaseModel)


def _validated(model: type[ModelT], **values: object) -> ModelT:
    """`model` built from tool arguments, its errors told field by field."""
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        raise ToolError(describe_errors(exc)) from None


def describe_errors(exc: ValidationError) -> str:
    """`Invalid arguments: title: String should have at least 1 character; ...` (no input
    values echoed)."""
    parts = []
    for error in exc.errors(include_url=False, include_input=False):
        where = ".".join(str(part) for part in error["loc"])
        parts.append(f"{where}: {error['msg']}" if where else error["msg"])
    return "Invalid arguments: " + "; ".join(parts)
