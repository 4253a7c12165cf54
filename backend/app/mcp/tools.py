"""The MCP tools: the caller's tasks through the same functions, validation and owner scoping as
the REST routes (no HTTP hop, no token forwarding). Failures come back as tool errors a model
can read and act on; another user's task is "not found", as everywhere."""

import inspect
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import ToolAnnotations
from pydantic import BaseModel, Field, ValidationError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.core.database import Database, is_unavailable
from app.core.errors import AppError, DatabaseUnavailable
from app.mcp.arguments import (
    Assignee,
    DueAfter,
    DueBefore,
    ExpectedVersion,
    HasDue,
    Limit,
    ListIds,
    NewTask,
    Overdue,
    Page,
    ParentFilter,
    PriorityFilter,
    Search,
    SeriesId,
    Sort,
    Status,
    TagFilter,
    TaskChanges,
    TaskId,
    TopLevel,
)
from app.mcp.auth import current_caller
from app.tasks import service
from app.tasks.errors import InvalidField, PreconditionFailed
from app.tasks.listing import COUNT_CAP
from app.tasks.schemas import TagPublic, TaskPatch, TaskPublic, TaskQuery

T = TypeVar("T")


class TaskPage(BaseModel):
    tasks: list[TaskPublic]
    total: int = Field(
        description="How many tasks match the filters, on all pages (counted up to 10,000)."
    )
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
        tools: list[tuple[Callable[..., Awaitable[Any]], str, ToolAnnotations]] = [
            (self.list_tasks, "List tasks", READ_ONLY),
            (self.get_task, "Get a task", READ_ONLY),
            (self.create_task, "Create a task", WRITE),
            # Not idempotent: `completed: true` twice completes a recurring task twice.
            (self.update_task, "Update a task", WRITE),
            (self.complete_task, "Complete a task", WRITE),
            (self.reopen_task, "Reopen a task", IDEMPOTENT_WRITE),
            (self.delete_task, "Delete a task", DESTRUCTIVE),
            (self.list_tags, "List tags", READ_ONLY),
        ]
        for function, title, annotations in tools:
            description = inspect.cleandoc(function.__doc__ or "")
            server.add_tool(function, title=title, description=description, annotations=annotations)

    async def list_tasks(
        self,
        status: Status = "all",
        search: Search = None,
        priority: PriorityFilter = None,
        tag: TagFilter = [],  # noqa: B006 - pydantic copies defaults
        due_after: DueAfter = None,
        due_before: DueBefore = None,
        has_due: HasDue = None,
        overdue: Overdue = None,
        series_id: SeriesId = None,
        list_id: ListIds = [],  # noqa: B006 - pydantic copies defaults
        parent_id: ParentFilter = None,
        top_level: TopLevel = None,
        assignee: Assignee = None,
        sort: Sort = "-created_at",
        page: Page = 1,
        limit: Limit = 20,
    ) -> TaskPage:
        """List your tasks, newest first unless `sort` says otherwise, one page at a time.
        Every argument is optional; each one given narrows the list. The result says how many
        tasks match in all (`total`) and whether another page follows (`has_more`)."""
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
            list_id=list_id,
            parent_id=parent_id,
            top_level=top_level,
            assignee=assignee,
            sort=sort,
            page=page,
            limit=limit,
        )
        caller = current_caller()
        rows, total = await self._read(
            lambda connection: service.list_tasks(connection=connection, caller=caller, query=query)
        )
        # Past COUNT_CAP the count stopped: another page follows every full one.
        capped = total > COUNT_CAP
        return TaskPage(
            tasks=[TaskPublic.model_validate(row) for row in rows],
            total=min(total, COUNT_CAP),
            page=query.page,
            limit=query.limit,
            has_more=len(rows) == query.limit if capped else query.page * query.limit < total,
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

    async def create_task(self, task: NewTask) -> TaskPublic:
        """Create a task and return it. Only `title` is required. A task may be due on a day
        (`due_date`), at a time (`due_time`) in a time zone, repeat (`recurrence`, an RRULE),
        remind the user (`remind_at`) and carry `tags`."""
        owner_id = current_caller().user_id
        created = await self._write(
            lambda connection: service.create_task(
                connection=connection, owner_id=owner_id, data=task
            )
        )
        return TaskPublic.model_validate(created)

    async def update_task(
        self, task_id: TaskId, changes: TaskChanges, expected_version: ExpectedVersion = None
    ) -> TaskPublic:
        """Change some members of a task: only those in `changes` change. Setting `completed`
        to true on a recurring task completes its current occurrence, as `complete_task` does.
        Returns the task as it is now."""
        return await self._patch(task_id, changes, expected_version)

    async def complete_task(
        self, task_id: TaskId, expected_version: ExpectedVersion = None
    ) -> TaskPublic:
        """Mark a task done and return it. A recurring task instead keeps the occurrence as a
        completed copy (listed with `series_id` = this task's id) and moves on to its next due
        date, staying open; when its rule has no further date, it is simply completed."""
        return await self._patch(task_id, TaskPatch(completed=True), expected_version)

    async def reopen_task(
        self, task_id: TaskId, expected_version: ExpectedVersion = None
    ) -> TaskPublic:
        """Mark a done task as not done again. Returns the task as it is now."""
        return await self._patch(task_id, TaskPatch(completed=False), expected_version)

    async def delete_task(
        self, task_id: TaskId, expected_version: ExpectedVersion = None
    ) -> Deleted:
        """Delete a task for good (the completed copies of a recurring task stay)."""
        owner_id = current_caller().user_id
        await self._write(
            lambda connection: service.delete_task(
                connection=connection,
                owner_id=owner_id,
                task_id=task_id,
                if_match=_versions(expected_version),
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

    async def _patch(
        self, task_id: uuid.UUID, changes: TaskPatch, expected_version: int | None
    ) -> TaskPublic:
        owner_id = current_caller().user_id
        task = await self._write(
            lambda connection: service.patch_task(
                connection=connection,
                owner_id=owner_id,
                task_id=task_id,
                data=changes,
                if_match=_versions(expected_version),
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
        except PreconditionFailed as error:
            raise ToolError(
                f"The task was changed meanwhile: it is at version {error.current_version} "
                "now. Nothing was changed; get it again before deciding."
            ) from None
        except AppError as error:  # task not found, and the like
            raise ToolError(error.message) from None
        except InvalidField as error:  # valid alone, not for this task (e.g. needs due_date)
            raise ToolError(f"Invalid arguments: {error.field}: {error.message}") from None
        except Exception as exc:
            if is_unavailable(exc):
                raise ToolError(DatabaseUnavailable.detail) from None
            raise  # the SDK logs it and answers "Error executing tool", no details


def _versions(expected_version: int | None) -> list[int] | None:
    """`expected_version` as the service's If-Match: None, no precondition."""
    return None if expected_version is None else [expected_version]


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
