"""What a write does to a task, without the database: the members sent applied to the stored
task, the cross-member rules checked, and what is derived recomputed (anchor, due_at,
reminded_at, and for a completed recurring task its move to the next occurrence)."""

import uuid
from dataclasses import dataclass
from typing import Any

from app.core.models import updated_after, utcnow
from app.tasks import due
from app.tasks.errors import InvalidField
from app.tasks.recurrence import Series

Record = dict[str, Any]

# A new task before the client's members: v1 defaults, and nothing due, recurring or tagged.
DEFAULTS: Record = {
    "description": None,
    "completed": False,
    "due_date": None,
    "due_time": None,
    "time_zone": None,
    "due_at": None,
    "recurrence": None,
    "recurrence_anchor": None,
    "remind_at": None,
    "reminded_at": None,
    "tags": [],
    "series_id": None,
    "parent_id": None,
    "assignee_id": None,
    "comment_count": 0,
}


def new_task(owner_id: uuid.UUID, members: Record, owner_zone: str) -> Record:
    now = utcnow()
    task = {**DEFAULTS, "id": uuid.uuid4(), "user_id": owner_id, **members}
    task.update(created_at=now, updated_at=now, version=1)
    _check(task, None, members)
    return _derive(task, None, members, owner_zone)


def changed_task(current: Record, members: Record, owner_zone: str) -> Record:
    """The task after a PUT (every member) or PATCH (the members sent): one version later."""
    task = {**current, **members}
    task["updated_at"] = updated_after(current["updated_at"])
    task["version"] = current["version"] + 1
    _check(task, current, members)
    return _derive(task, current, members, owner_zone)


def _check(task: Record, current: Record | None, members: Record) -> None:
    if task["due_date"] is None:
        for needing in ("due_time", "recurrence"):
            if task[needing] is None:
                continue
            if "due_date" in members and current is not None and current["due_date"] is not None:
                message = f"cannot be cleared while the task has a {needing}; clear both"
                raise InvalidField("due_date", message)
            raise InvalidField(needing, "needs due_date")


def _derive(task: Record, current: Record | None, members: Record, owner_zone: str) -> Record:
    zone = task["time_zone"] or owner_zone
    if task["recurrence"] is None:
        task["recurrence_anchor"] = None
    elif (
        current is None
        or current["recurrence_anchor"] is None
        or task["recurrence"] != current["recurrence"]
        or task["due_date"] != current["due_date"]
    ):
        # A new rule, or a due date the client changed: the rule starts (again) there.
        task["recurrence_anchor"] = task["due_date"]
        series = Series(task["recurrence"], task["due_date"], task["due_time"], zone)
        if not series.produces_a_date():
            field = "recurrence" if "recurrence" in members else "due_date"
            raise InvalidField(field, "the recurrence rule produces no date from due_date on")
    if current is not None and task["remind_at"] != current["remind_at"]:
        task["reminded_at"] = None
    task["due_at"] = due.due_at(task["due_date"], task["due_time"], zone)
    return task


@dataclass(frozen=True)
class Completion:
    """A recurring task completed: the copy that keeps the occurrence, and the task moved on."""

    copy: Record
    moved: Record


def complete_occurrence(task: Record, current: Record, owner_zone: str) -> Completion | None:
    """For a write that completes a recurring task (open before, recurring after the other
    members): the completed copy and the task moved to its next occurrence. None when the
    write is not such a completion, or the series has no next occurrence (then the task is
    simply completed)."""
    if not task["completed"] or current["completed"] or task["recurrence"] is None:
        return None
    zone = task["time_zone"] or owner_zone
    series = Series(task["recurrence"], task["recurrence_anchor"], task["due_time"], zone)
    next_date = series.next_after(task["due_date"], due.today_in(zone))
    if next_date is None:
        return None
    now = utcnow()
    copy = {
        **task,
        "id": uuid.uuid4(),
        "recurrence": None,
        "recurrence_anchor": None,
        "remind_at": None,
        "reminded_at": None,
        "series_id": task["id"],
        "completed": True,
        "created_at": now,
        "updated_at": now,
        "version": 1,
    }
    moved = {**task, "completed": False, "due_date": next_date, "reminded_at": None}
    if task["remind_at"] is not None:
        days = (next_date - task["due_date"]).days
        moved["remind_at"] = due.moved_instant(task["remind_at"], days, zone)
    moved["due_at"] = due.due_at(next_date, task["due_time"], zone)
    return Completion(copy, moved)


def rezoned(task: Record, owner_zone: str) -> Record:
    """A task that follows its owner's zone, after the owner moved to `owner_zone`."""
    return {
        **task,
        "due_at": due.due_at(task["due_date"], task["due_time"], owner_zone),
        "updated_at": updated_after(task["updated_at"]),
        "version": task["version"] + 1,
    }


def retagged(task: Record, tags: list[str]) -> Record:
    """A task whose tags were renamed or removed: a write like any other."""
    return {
        **task,
        "tags": tags,
        "updated_at": updated_after(task["updated_at"]),
        "version": task["version"] + 1,
    }
