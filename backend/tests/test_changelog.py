"""The change log under concurrency (PostgreSQL): writers on several connections create, change
and delete one user's tasks, each holding its transaction open a little after recording its
change (a slow commit: the window in which a number taken too early lets a reader skip past
it), while a reader syncs again and again. Replaying every answer must end with exactly the
tasks in the database."""

import asyncio
import random
import uuid
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from app.sync import service
from app.sync.cursors import Cursor, decode_cursor
from app.tasks import service as tasks
from app.tasks.errors import TaskNotFound
from app.tasks.models import Task
from app.tasks.schemas import TaskCreate, TaskPatch
from tests.conftest import register

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("needs_postgres")]

WRITERS = 6
WRITES_PER_WRITER = 40
READ_LIMIT = 7


async def write_forever(engine: AsyncEngine, owner: uuid.UUID, seed: int, ids: list[uuid.UUID]):  # type: ignore[no-untyped-def]
    rng = random.Random(seed)
    for n in range(WRITES_PER_WRITER):
        async with engine.connect() as connection:
            action = rng.random()
            try:
                if action < 0.4 or not ids:
                    task = await tasks.create_task(
                        connection=connection,
                        owner_id=owner,
                        data=TaskCreate(title=f"w{seed}-{n}"),
                    )
                    ids.append(task["id"])
                elif action < 0.8:
                    await tasks.patch_task(
                        connection=connection,
                        owner_id=owner,
                        task_id=rng.choice(ids),
                        data=TaskPatch(title=f"w{seed}-{n}", completed=rng.random() < 0.5),
                    )
                else:
                    await tasks.delete_task(
                        connection=connection, owner_id=owner, task_id=rng.choice(ids)
                    )
            except TaskNotFound:
                await connection.rollback()
                continue
            # Commit late: another writer may record and commit its change meanwhile.
            await asyncio.sleep(rng.uniform(0, 0.006))
            await connection.commit()


async def sync_once(
    engine: AsyncEngine, owner: uuid.UUID, cursor: Cursor | None, state: dict[uuid.UUID, Any]
) -> tuple[Cursor, bool]:
    async with engine.connect() as connection:
        page = await service.sync(
            connection=connection, user_id=owner, cursor=cursor, limit=READ_LIMIT
        )
    for task in page.tasks:
        state[task["id"]] = (task["title"], task["completed"], task["updated_at"])
    for task_id in page.deleted:
        state.pop(task_id, None)
    return decode_cursor(owner, page.cursor), page.has_more


async def test_concurrent_writers_never_make_a_syncing_reader_skip_a_change(
    engine: AsyncEngine, client: Any
) -> None:
    owner = uuid.UUID((await register(client))["user"]["id"])
    reader = engine.execution_options(isolation_level="AUTOCOMMIT")  # as GET requests read
    state: dict[uuid.UUID, Any] = {}
    ids: list[uuid.UUID] = []
    writers = [
        asyncio.create_task(write_forever(engine, owner, seed, ids)) for seed in range(WRITERS)
    ]
    cursor: Cursor | None = None
    reads = 0
    while not all(w.done() for w in writers):
        cursor, _ = await sync_once(reader, owner, cursor, state)
        reads += 1
    await asyncio.gather(*writers)
    has_more = True
    while has_more:
        cursor, has_more = await sync_once(reader, owner, cursor, state)

    async with engine.connect() as connection:
        rows = await connection.execute(
            select(Task.id, Task.title, Task.completed, Task.updated_at).where(
                Task.user_id == owner
            )
        )
        stored = {row.id: (row.title, row.completed, row.updated_at) for row in rows}
    assert reads > 20, "the reader should have synced while the writers ran"
    assert len(ids) > WRITERS * 5
    missing = set(stored) - set(state)
    extra = set(state) - set(stored)
    stale = {k for k in set(state) & set(stored) if state[k] != stored[k]}
    assert (missing, extra, stale) == (set(), set(), set())
