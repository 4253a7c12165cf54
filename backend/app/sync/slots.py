"""The per-user stream limit of one instance, whatever its number of worker processes.

The workers of an instance share no memory, so the places are lock files in a directory of the
instance's own: `python -m app run|serve` makes one per start and hands it to its workers
(STREAM_SLOTS_DIR, see `app.__main__`). A user's place number n is the file `<user id>.<n>`;
a stream holds an exclusive `flock` on its file while it is open. The kernel releases the lock
when the holder closes it or dies, so a killed worker's places come back at once: there is
nothing to expire and nothing to count that could drift.

A holder that closes its stream deletes the file before unlocking it; a worker that opened the
file just before that deletion holds a lock on a file nobody else can find, so after locking it
checks that the name still leads to the file it locked, and otherwise tries that place again.

Without a directory (the app built in-process, as the tests do) the places are counted in
memory: that process is the whole instance.
"""

import contextlib
import fcntl
import os
import uuid
from collections.abc import Callable
from pathlib import Path

# Undoes one `acquire`; idempotent.
Release = Callable[[], None]
# How often a place is tried again when its file was deleted between opening and locking.
MAX_ATTEMPTS_PER_PLACE = 5
FLAGS = os.O_RDWR | os.O_CREAT | os.O_CLOEXEC


class MemorySlots:
    """The places of an instance that is this one process."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._held: dict[uuid.UUID, int] = {}

    def acquire(self, user_id: uuid.UUID) -> Release | None:
        held = self._held.get(user_id, 0)
        if held >= self.limit:
            return None
        self._held[user_id] = held + 1
        released = False

        def release() -> None:
            nonlocal released
            if released:
                return
            released = True
            left = self._held[user_id] - 1
            if left:
                self._held[user_id] = left
            else:
                del self._held[user_id]

        return release


class FileSlots:
    """The places of an instance shared by its workers, as locked files in `directory`."""

    def __init__(self, directory: Path, limit: int) -> None:
        self.directory = directory
        self.limit = limit

    def acquire(self, user_id: uuid.UUID) -> Release | None:
        for place in range(self.limit):
            release = self._take(self.directory / f"{user_id}.{place}")
            if release is not None:
                return release
        return None

    def _take(self, path: Path) -> Release | None:
        for _ in range(MAX_ATTEMPTS_PER_PLACE):
            try:
                descriptor = os.open(path, FLAGS, 0o600)
            except FileNotFoundError:  # the directory was cleaned away under us: make it again
                path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
                descriptor = os.open(path, FLAGS, 0o600)
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:  # held by a stream of this user, in any worker
                os.close(descriptor)
                return None
            try:
                current = os.stat(path).st_ino == os.fstat(descriptor).st_ino
            except FileNotFoundError:
                current = False
            if current:
                return _releaser(descriptor, path)
            os.close(descriptor)  # deleted by its last holder meanwhile: try the name again
        return None


def _releaser(descriptor: int, path: Path) -> Release:
    released = False

    def release() -> None:
        nonlocal released
        if released:
            return
        released = True
        # Deleted while still locked, so nobody can lock this file (and count it) afterwards.
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        os.close(descriptor)

    return release


Slots = MemorySlots | FileSlots


def instance_slots(directory: str | None, limit: int) -> Slots:
    """Shared places when the instance's directory is known, else this process's own."""
    if directory:
        return FileSlots(Path(directory), limit)
    return MemorySlots(limit)
