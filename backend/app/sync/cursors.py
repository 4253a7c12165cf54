"""Sync cursors (also the SSE event ids): opaque to clients, bound to one user.

- `<seq>.<tag>`: everything after change `seq` of the user whose id starts with `tag`.
- `<seq>.<tag>.<task id>`: the middle of a full sync that started at counter `seq`, after the
  task with that id (a full sync pages through the tasks by id).

The tag keeps a cursor of one account from being used by another on a shared device (it would
skip that account's changes): such a cursor is unknown, 410.
"""

import re
import uuid
from dataclasses import dataclass

_CURSOR = re.compile(r"(\d{1,18})\.([0-9a-f]{8})(?:\.([0-9a-f]{32}))?")


class MalformedCursor(ValueError):
    pass


class ForeignCursor(ValueError):
    """Well-formed, but another user's."""


@dataclass(frozen=True)
class Cursor:
    seq: int
    after_task: uuid.UUID | None = None  # set while a full sync is paging through the tasks


def _tag(user_id: uuid.UUID) -> str:
    return user_id.hex[:8]


def encode_cursor(user_id: uuid.UUID, seq: int, after_task: uuid.UUID | None = None) -> str:
    cursor = f"{seq}.{_tag(user_id)}"
    return cursor if after_task is None else f"{cursor}.{after_task.hex}"


def decode_cursor(user_id: uuid.UUID, text: str) -> Cursor:
    match = _CURSOR.fullmatch(text)
    if match is None:
        raise MalformedCursor(text)
    seq, tag, task = match.groups()
    if tag != _tag(user_id):
        raise ForeignCursor(text)
    return Cursor(int(seq), uuid.UUID(task) if task else None)
