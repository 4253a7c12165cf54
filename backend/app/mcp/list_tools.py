"""The MCP tools of lists and moves: `list_lists`, `create_list`, `move_task`, and the list,
parent and assignee filters of `list_tasks`. Same functions, visibility rule and errors as the
REST routes; a list or task out of reach is "not found"."""

import inspect
import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import MCPServer
from mcp_types import ToolAnnotations
from pydantic import BaseModel, Field

from app.lists import service as lists
from app.lists.schemas import ListCreate, ListName, ListPublic
from app.mcp.arguments import ExpectedVersion, TaskId
from app.mcp.auth import current_caller
from app.mcp.tools import READ_ONLY, WRITE, TaskTools, _validated, _versions
from app.tasks import service
from app.tasks.moves import UNCHANGED, Move
from app.tasks.schemas import TaskPublic


class ListList(BaseModel):
    lists: list[ListPublic]


class ListAndTaskTools(TaskTools):
    """The task tools, with lists, subtasks and moves."""

    def register(self, server: MCPServer) -> None:
        super().register(server)
        tools: list[tuple[Callable[..., Awaitable[Any]], str, ToolAnnotations]] = [
            (self.list_lists, "List lists", READ_ONLY),
            (self.create_list, "Create a list", WRITE),
            (self.move_task, "Move a task", WRITE),
        ]
        for function, title, annotations in tools:
            description = inspect.cleandoc(function.__doc__ or "")
            server.add_tool(function, title=title, description=description, annotations=annotations)

    async def list_lists(
        self,
        archived: Annotated[
            Literal["false", "true", "all"],
            Field(description="`false`: lists in use; `true`: archived ones; `all`: both."),
        ] = "false",
    ) -> ListList:
        """List your lists in your sidebar order, the Inbox first. A task's `list_id` is one
        of these ids."""
        user_id = current_caller().user_id
        found = await self._read(
            lambda connection: lists.list_lists(
                connection=connection, user_id=user_id, archived=archived
            )
        )
        return ListList(lists=[ListPublic.model_validate(entry) for entry in found])

    async def create_list(
        self,
        name: Annotated[ListName, Field(description="1-100 characters.")],
        color: Annotated[str | None, Field(description="`#rrggbb`, or null.")] = None,
    ) -> ListPublic:
        """Create a list (at the end of your sidebar) and return it."""
        data = _validated(ListCreate, name=name, color=color)
        user_id = current_caller().user_id
        created = await self._write(
            lambda connection: lists.create_list(connection=connection, user_id=user_id, data=data)
        )
        return ListPublic.model_validate(created)

    async def move_task(
        self,
        task_id: TaskId,
        list_id: Annotated[
            uuid.UUID | None, Field(description="The target list; left out: the task's list.")
        ] = None,
        parent_id: Annotated[
            uuid.UUID | Literal["top"] | None,
            Field(
                description="The new parent task's id, or `top` for the top level; left out: "
                "unchanged (a subtask moved to another list must name one)."
            ),
        ] = None,
        before_id: Annotated[
            uuid.UUID | None, Field(description="A sibling: the task goes just before it.")
        ] = None,
        after_id: Annotated[
            uuid.UUID | None, Field(description="A sibling: the task goes just after it.")
        ] = None,
        expected_version: ExpectedVersion = None,
    ) -> TaskPublic:
        """Move a task, with its subtasks: to another list, under another task (at most 4
        levels) or to the top level, and just before or after a sibling (neither: the end).
        Returns the task as it is now."""
        parent: Any = (
            UNCHANGED if parent_id is None else (None if parent_id == "top" else parent_id)
        )
        move = Move(list_id=list_id, parent_id=parent, before_id=before_id, after_id=after_id)
        user_id = current_caller().user_id
        task = await self._write(
            lambda connection: service.move_task(
                connection=connection,
                user_id=user_id,
                task_id=task_id,
                move=move,
                if_match=_versions(expected_version),
            )
        )
        return TaskPublic.model_validate(task)
