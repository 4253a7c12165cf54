"""The task operations that REST, MCP and sync call: create, get, list, replace, patch
(completing a recurring task included), delete, and the tag operations. Keyword-only, free of
HTTP: routers translate headers and statuses to and from these calls.

Every write runs in the caller's transaction and follows the same steps (DESIGN.md):
1. `queries.lock_owner` — the owner's lock first (the change log's lock hooks in there);
2. the task rows locked (`queries.lock_task`) or inserted;
3. `version` and `updated_at` moved (`changes`);
4. rows written only through `queries.insert_task_row`/`update_task_row`/`delete_task_row`,
   one call per task changed (where the change log records each change).
"""

import uuid
from collections.abc import Callable, Collection
from typing import Any, TypeVar

import anyio
from sqlalchemy.ext.asyncio import AsyncConnection

from app.accounts.sessions import Caller
from app.core.models import updated_after
from app.integrations.events import EventType
from app.lists.visibility import check_role, role_in
from app.tasks import changes, listing, queries, structure, tags
from app.tasks.errors import InvalidField, PreconditionFailed, TagNotFound, TaskNotFound
from app.tasks.moves import Move, move_task
from app.tasks.schemas import TaskCreate, TaskPatch, TaskQuery, TaskUpdate

__all__ = ["Move", "move_task"]
# Members that say where a task is and who does it: not v2 members of `changes`.
PLACEMENT = ("list_id", "parent_id", "assignee_id")

Record = dict[str, Any]
# If-Match as versions: None = no precondition (or `*`: any existing task).
Versions = Collection[int] | None
T = TypeVar("T")


async def _stepping_rules(function: Callable[..., T], *args: Any) -> T:
    """Run a `changes` function that steps a recurrence rule off the event loop: dateutil may
    walk a rule that never matches for a fifth of a second or more before it gives up (see
    `recurrence`), and every other request on this worker would wait for it."""
    return await anyio.to_thread.run_sync(function, *args)


# --- reads -------------------------------------------------------------------------------------


async def get_task(*, connection: AsyncConnection, caller: Caller, task_id: uuid.UUID) -> Record:
    return await queries.get_task(connection=connection, caller=caller, task_id=task_id)


async def list_tasks(
    *, connection: AsyncConnection, caller: Caller, query: TaskQuery
) -> tuple[list[Record], int]:
    for list_id in dict.fromkeys(query.list_id):  # a list the caller cannot see: 404
        check_role(
            await role_in(connection=connection, user_id=caller.user_id, list_id=list_id),
            "viewer",
        )
    return await listing.list_tasks(connection=connection, caller=caller, query=query)


# --- task writes -------------------------------------------------------------------------------


async def create_task(
    *, connection: AsyncConnection, owner_id: uuid.UUID, data: TaskCreate
) -> Record:
    owner_zone = await queries.lock_owner(connection=connection, owner_id=owner_id)
    members = data.model_dump()
    placement = {key: members.pop(key) for key in PLACEMENT}
    members.update(
        await structure.place_new(
            connection=connection,
            user_id=owner_id,
            list_id=placement["list_id"],
            parent_id=placement["parent_id"],
            recurring=members["recurrence"] is not None,
        )
    )
    await structure.check_assignee(
        connection=connection, list_id=members["list_id"], assignee_id=placement["assignee_id"]
    )
    members["assignee_id"] = placement["assignee_id"]
    if members["recurrence"] is not None:
        task = await _stepping_rules(changes.new_task, owner_id, members, owner_zone)
    else:
        task = changes.new_task(owner_id, members, owner_zone)
    tag_ids = await _canonicalise_tags(connection, task)
    await queries.insert_task_row(connection=connection, task=task)
    await tags.link(connection=connection, task_ids=[task["id"]], tag_ids=tag_ids)
    return _public(task)


async def replace_task(
    *,
    connection: AsyncConnection,
    owner_id: uuid.UUID,
    task_id: uuid.UUID,
    data: TaskUpdate,
    if_match: Versions = None,
) -> Record:
    """PUT: every member; those left out go back to their defaults, except the placement
    (`list_id`, `parent_id`, `assignee_id`), which stays unless sent."""
    members = data.model_dump()
    for key in PLACEMENT:
        if key not in data.model_fields_set:
            members.pop(key)
    return await _update(connection, owner_id, task_id, members, if_match)


async def patch_task(
    *,
    connection: AsyncConnection,
    owner_id: uuid.UUID,
    task_id: uuid.UUID,
    data: TaskPatch,
    if_match: Versions = None,
) -> Record:
    """PATCH: only the members sent. `{"completed": true}` on a recurring task completes its
    current occurrence (a completed copy) and moves it to the next one."""
    return await _update(
        connection, owner_id, task_id, data.model_dump(exclude_unset=True), if_match
    )


async def delete_task(
    *,
    connection: AsyncConnection,
    owner_id: uuid.UUID,
    task_id: uuid.UUID,
    if_match: Versions = None,
) -> None:
    """Delete a task and its subtasks; the completed copies of a recurring one stay."""
    await queries.lock_owner(connection=connection, owner_id=owner_id)
    current = await queries.lock_task(connection=connection, owner_id=owner_id, task_id=task_id)
    _check_precondition(current, if_match)
    await _require_editor(connection, owner_id, current["list_id"])
    levels = await structure.descendant_levels(connection=connection, task_id=task_id)
    for level in reversed(levels):  # the deepest first, each a deletion in the change log
        for child in level:
            gone = await queries.delete_task_row(
                connection=connection, owner_id=owner_id, task_id=child
            )
            await tags.delete_unused_by_name(
                connection=connection, owner_id=owner_id, names=gone or []
            )
    removed_tags = await queries.delete_task_row(
        connection=connection, owner_id=owner_id, task_id=task_id
    )
    if removed_tags is None:
        raise TaskNotFound()
    await tags.delete_unused_by_name(connection=connection, owner_id=owner_id, names=removed_tags)


async def _update(
    connection: AsyncConnection,
    owner_id: uuid.UUID,
    task_id: uuid.UUID,
    members: Record,
    if_match: Versions,
) -> Record:
    owner_zone = await queries.lock_owner(connection=connection, owner_id=owner_id)
    current = await queries.lock_task(connection=connection, owner_id=owner_id, task_id=task_id)
    _check_precondition(current, if_match)
    await _require_editor(connection, owner_id, current["list_id"])
    placement = {key: members.pop(key) for key in PLACEMENT if key in members}
    final_parent = placement.get("parent_id", current["parent_id"])
    if final_parent is not None and members.get("recurrence", current["recurrence"]) is not None:
        raise InvalidField("recurrence", "a subtask cannot have a recurrence")
    moved = _moves(current, placement)
    if moved:
        parent = placement.get("parent_id", UNCHANGED)
        move = Move(list_id=placement.get("list_id"), parent_id=parent)
        # One webhook event for the whole PATCH: the final write's, not the move's too.
        current = await move_task(
            connection=connection, user_id=owner_id, task_id=task_id, move=move, event=None
        )
        # The move and the rest of the write are one write: one version.
        current = {**current, "version": current["version"] - 1}
    if "assignee_id" in placement:
        await structure.check_assignee(
            connection=connection, list_id=current["list_id"], assignee_id=placement["assignee_id"]
        )
        members["assignee_id"] = placement["assignee_id"]
    recurring = members.get("recurrence") is not None or current["recurrence"] is not None
    if recurring:
        task = await _stepping_rules(changes.changed_task, current, members, owner_zone)
    else:
        task = changes.changed_task(current, members, owner_zone)
    retag = "tags" in members and members["tags"] != current["tags"]
    tag_ids = await _canonicalise_tags(connection, task) if retag else None
    completion = None  # only a recurring task completes into a copy
    if recurring:
        completion = await _stepping_rules(changes.complete_occurrence, task, current, owner_zone)
    if completion is not None:
        copy_tag_ids = tag_ids
        if copy_tag_ids is None:
            copy_tag_ids = [tag_id for tag_id, _ in await _tag_ids(connection, task)]
        # The copy has no subtasks and goes to the end of the same list's top level.
        completion.copy["parent_id"] = None
        completion.copy["assignee_id"] = task["assignee_id"]
        completion.copy["position"] = await structure.end_position(
            connection=connection, list_id=task["list_id"], parent_id=None
        )
        await queries.insert_task_row(connection=connection, task=completion.copy)
        await tags.link(
            connection=connection, task_ids=[completion.copy["id"]], tag_ids=copy_tag_ids
        )
        task = completion.moved
    await queries.update_task_row(
        connection=connection, task=task, event=_webhook_event(current, members, moved=moved)
    )
    if tag_ids is not None:
        removed = await tags.unlink_all(connection=connection, task_id=task_id)
        await tags.link(connection=connection, task_ids=[task_id], tag_ids=tag_ids)
        gone = set(removed) - set(tag_ids)
        await tags.delete_unused(connection=connection, owner_id=owner_id, tag_ids=gone)
    if completion is not None:
        await _set_descendants(connection, task_id, completed=False)  # open again
    elif task["completed"] and not current["completed"]:
        await _set_descendants(connection, task_id, completed=True)
    return _public(task)


UNCHANGED = Move().parent_id


def _moves(current: Record, placement: Record) -> bool:
    """Whether a PATCH/PUT names another list or parent (naming the current ones is no move)."""
    return any(
        key in placement and placement[key] != current[key] for key in ("list_id", "parent_id")
    )


async def _require_editor(
    connection: AsyncConnection, user_id: uuid.UUID, list_id: uuid.UUID
) -> None:
    held = await role_in(connection=connection, user_id=user_id, list_id=list_id)
    check_role(held, "editor", not_found=TaskNotFound)


async def _set_descendants(
    connection: AsyncConnection, task_id: uuid.UUID, *, completed: bool
) -> None:
    """Complete (or reopen) the task's descendants that are not so already: each a write."""
    ids = await structure.descendants(connection=connection, task_id=task_id)
    for child in await queries.lock_tasks_by_id(connection=connection, task_ids=ids):
        if child["completed"] != completed:
            written = {
                **child,
                "completed": completed,
                "updated_at": updated_after(child["updated_at"]),
                "version": child["version"] + 1,
            }
            event: EventType = "task.completed" if completed else "task.reopened"
            await queries.update_task_row(connection=connection, task=written, event=event)


async def delete_tasks_of_list(
    *, connection: AsyncConnection, user_id: uuid.UUID, list_id: uuid.UUID
) -> None:
    """Every task of a list being deleted, each deletion in its members' change log (the list
    is locked and its owner checked by the caller)."""
    await queries.lock_owner(connection=connection, owner_id=user_id)
    removed = await queries.delete_list_tasks(connection=connection, list_id=list_id)
    for creator_id, names in removed.items():
        await tags.delete_unused_by_name(connection=connection, owner_id=creator_id, names=names)


def _webhook_event(current: Record, members: Record, *, moved: bool) -> EventType:
    """The finest webhook event of an update: completing a task (a recurring one moving on to
    its next occurrence included) is `task.completed`, reopening it `task.reopened`; else a
    PATCH that names another list or parent is `task.moved`."""
    if "completed" in members and members["completed"] != current["completed"]:
        return "task.completed" if members["completed"] else "task.reopened"
    return "task.moved" if moved else "task.updated"


def _check_precondition(current: Record, if_match: Versions) -> None:
    if if_match is not None and current["version"] not in if_match:
        raise PreconditionFailed(current_version=current["version"])


async def _tag_ids(connection: AsyncConnection, task: Record) -> list[tuple[uuid.UUID, str]]:
    return await tags.canonical_tags(
        connection=connection, owner_id=task["user_id"], names=task["tags"]
    )


async def _canonicalise_tags(connection: AsyncConnection, task: Record) -> list[uuid.UUID]:
    """The task's tags as the owner's tags (created where new), in their canonical case."""
    found = await _tag_ids(connection, task)
    task["tags"] = [name for _, name in found]
    return [tag_id for tag_id, _ in found]


def _public(task: Record) -> Record:
    return {key: value for key, value in task.items() if key != "recurrence_anchor"}


# --- the owner's zone --------------------------------------------------------------------------


async def change_time_zone(
    *, connection: AsyncConnection, owner_id: uuid.UUID, time_zone: str
) -> None:
    """Before the owner's zone changes to `time_zone`: every dated task that follows the
    owner's zone gets its due_at in the new zone (a write to each). The caller then stores the
    zone on the user, in the same transaction."""
    current_zone = await queries.lock_owner(connection=connection, owner_id=owner_id)
    if current_zone == time_zone:
        return
    for task in await queries.lock_floating_tasks(connection=connection, owner_id=owner_id):
        await queries.update_task_row(connection=connection, task=changes.rezoned(task, time_zone))


# --- tags --------------------------------------------------------------------------------------


async def list_tags(*, connection: AsyncConnection, owner_id: uuid.UUID) -> list[Record]:
    return await tags.tag_counts(connection=connection, owner_id=owner_id)


async def rename_tag(
    *, connection: AsyncConnection, owner_id: uuid.UUID, name: str, new_name: str
) -> Record:
    """Rename a tag on all the owner's tasks; into an existing tag of that name, a merge."""
    await queries.lock_owner(connection=connection, owner_id=owner_id)
    old = await tags.find_tag(connection=connection, owner_id=owner_id, name=name)
    if old is None:
        raise TagNotFound()
    old_id, old_name = old
    old_key = tags.name_key(old_name)
    if tags.name_key(new_name) == old_key:
        # Only the case changes: the same tag, shown in the new case.
        await tags.rename(connection=connection, tag_id=old_id, name=new_name)
        target = (old_id, new_name)
    else:
        [target] = await tags.canonical_tags(
            connection=connection, owner_id=owner_id, names=[new_name]
        )
    task_ids = await tags.tagged_task_ids(connection=connection, tag_id=old_id)
    for task in await queries.lock_tasks(
        connection=connection, owner_id=owner_id, task_ids=task_ids
    ):
        # Merged into a tag the task already had: it keeps the first of the two.
        names = list(
            dict.fromkeys(target[1] if tags.name_key(t) == old_key else t for t in task["tags"])
        )
        await queries.update_task_row(connection=connection, task=changes.retagged(task, names))
    if target[0] != old_id:
        await tags.move_links(connection=connection, source_id=old_id, target_id=target[0])
    [renamed] = [
        row
        for row in await list_tags(connection=connection, owner_id=owner_id)
        if tags.name_key(row["name"]) == tags.name_key(target[1])
    ]
    return renamed


async def delete_tag(*, connection: AsyncConnection, owner_id: uuid.UUID, name: str) -> None:
    """Remove a tag from all the owner's tasks."""
    await queries.lock_owner(connection=connection, owner_id=owner_id)
    found = await tags.find_tag(connection=connection, owner_id=owner_id, name=name)
    if found is None:
        raise TagNotFound()
    tag_id, tag_name = found
    key = tags.name_key(tag_name)
    task_ids = await tags.tagged_task_ids(connection=connection, tag_id=tag_id)
    for task in await queries.lock_tasks(
        connection=connection, owner_id=owner_id, task_ids=task_ids
    ):
        remaining = [t for t in task["tags"] if tags.name_key(t) != key]
        await queries.update_task_row(connection=connection, task=changes.retagged(task, remaining))
    await tags.delete_tag(connection=connection, tag_id=tag_id)
