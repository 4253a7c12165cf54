"""With 100k tasks across 1k users and one user with 10k more, neither an ordinary user's page nor
the heavy user's ever scans the whole tasks table, whatever its filters and sort, nor does a
page of the full delta sync or of a delta sync; nor do the reminder loop's and the session
clean-up's queries.
(bench/large_data.py measures the same statements with 1M tasks: 10,000 users and one with
50,000.)"""

import json
import uuid
from datetime import UTC, datetime
from typing import Any, get_args

import pytest
from sqlalchemy import event, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.accounts.cleanup import delete_dead_sessions
from app.accounts.sessions import Caller
from app.core.config import Settings
from app.core.database import create_database
from app.lists.models import TaskList
from app.sync.hub import EventHub
from app.sync.reminders import deliver_due_reminders
from app.sync.service import DELTA_PAGE, full_sync_statement
from app.tasks.listing import list_statements
from app.tasks.schemas import TaskQuery, TaskSort
from app.tasks.search_index import create_trigram_index, drop_trigram_index
from tests.conftest import make_settings

pytestmark = pytest.mark.anyio


@pytest.fixture
def settings(database_url: str) -> Settings:
    """No statement timeout (nor the driver's beside it): seeding 110,000 tasks is no request,
    and on a busy machine it takes longer than a request may."""
    return make_settings(database_url, db_statement_timeout_ms=0)


USERS = 1000
TASKS_PER_USER = 100
HEAVY_TASKS = 10_000

# Every user's Inbox and its one member (the seeds below put each user's tasks there).
INBOXES_POSTGRES = [
    """INSERT INTO lists (id, name, inbox_of, archived, created_at, updated_at, version)
       SELECT gen_random_uuid(), 'Inbox', id, false, now(), now(), 1 FROM users""",
    """INSERT INTO list_members (list_id, user_id, role, position, joined_at)
       SELECT id, inbox_of, 'owner', 'a0', now() FROM lists""",
]
INBOXES_SQLITE = [
    """INSERT INTO lists (id, name, inbox_of, archived, created_at, updated_at, version)
       SELECT lower(hex(randomblob(16))), 'Inbox', id, 0, '2026-01-01 00:00:00.000000',
              '2026-01-01 00:00:00.000000', 1 FROM users""",
    """INSERT INTO list_members (list_id, user_id, role, position, joined_at)
       SELECT id, inbox_of, 'owner', 'a0', '2026-01-01 00:00:00.000000' FROM lists""",
]

SEED_POSTGRES = [
    """INSERT INTO users (id, email, name, created_at, updated_at)
       SELECT gen_random_uuid(), 'u' || n || '@example.com', 'User ' || n, now(), now()
       FROM generate_series(1, :users) AS n""",
    """INSERT INTO users (id, email, name, created_at, updated_at)
       VALUES (gen_random_uuid(), 'heavy@example.com', 'Heavy', now(), now())""",
    *INBOXES_POSTGRES,
    """INSERT INTO tasks (id, user_id, title, description, completed, priority, search_text,
                          created_at, updated_at, list_id, position)
       SELECT gen_random_uuid(), u.id, 'task ' || n, NULL, n % 2 = 0, 1 + n % 3, 'task ' || n,
              now() - n * interval '1 second', now(), l.id, 'a' || lpad(n::text, 6, '0')
       FROM users AS u JOIN lists AS l ON l.inbox_of = u.id, generate_series(1, :per_user) AS n
       WHERE u.email <> 'heavy@example.com'""",
    """INSERT INTO tasks (id, user_id, title, description, completed, priority, search_text,
                          created_at, updated_at, list_id, position)
       SELECT gen_random_uuid(), u.id, 'task ' || n, NULL, n % 2 = 0, 1 + n % 3, 'task ' || n,
              now() - n * interval '1 second', now(), l.id, 'a' || lpad(n::text, 6, '0')
       FROM users AS u JOIN lists AS l ON l.inbox_of = u.id, generate_series(1, :heavy) AS n
       WHERE u.email = 'heavy@example.com'""",
    "ANALYZE",
]

SEED_SQLITE = [
    """WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :users)
       INSERT INTO users (id, email, name, created_at, updated_at)
       SELECT lower(hex(randomblob(16))), 'u' || i || '@example.com', 'User ' || i,
              '2026-01-01 00:00:00.000000', '2026-01-01 00:00:00.000000' FROM n""",
    *INBOXES_SQLITE,
    """WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :per_user)
       INSERT INTO tasks (id, user_id, title, description, completed, priority, search_text,
                          created_at, updated_at, list_id, position)
       SELECT lower(hex(randomblob(16))), u.id, 'task ' || i, NULL, i % 2 = 0, 1 + i % 3,
              'task ' || i, strftime('%Y-%m-%d %H:%M:%f000', 'now', '-' || i || ' seconds'),
              '2026-01-01 00:00:00.000000', l.id, 'a' || substr('000000' || i, -6)
       FROM users AS u JOIN lists AS l ON l.inbox_of = u.id, n""",
    "ANALYZE",
]


async def _seed(connection: AsyncConnection, is_postgres: bool) -> uuid.UUID:
    if is_postgres:  # bulk load first, then build search's GIN index once, as a restore would
        # Seeding is no request: on a busy machine it may take longer than their 10 s.
        await connection.execute(text("SET LOCAL statement_timeout = 0"))
        await connection.run_sync(drop_trigram_index)
    for statement in SEED_POSTGRES if is_postgres else SEED_SQLITE:
        params = {"users": USERS, "per_user": TASKS_PER_USER, "heavy": HEAVY_TASKS}
        used = {k: v for k, v in params.items() if f":{k}" in statement}
        await connection.execute(text(statement), used)
    if is_postgres:
        for statement in SEED_V2:
            await connection.execute(text(statement))
        assert await connection.run_sync(create_trigram_index)
        await connection.execute(text("ANALYZE tasks"))
    owner = await connection.scalar(text("SELECT id FROM users ORDER BY email LIMIT 1"))
    return owner if isinstance(owner, uuid.UUID) else uuid.UUID(str(owner))


async def _heavy_user(connection: AsyncConnection) -> uuid.UUID:
    heavy = await connection.scalar(text("SELECT id FROM users WHERE email = 'heavy@example.com'"))
    return heavy if isinstance(heavy, uuid.UUID) else uuid.UUID(str(heavy))


def _full_scans_of_tasks(plan: Any) -> list[Any]:
    """PostgreSQL JSON plan nodes that read the whole tasks table."""
    found = []
    if isinstance(plan, dict):
        if plan.get("Node Type") == "Seq Scan" and plan.get("Relation Name") == "tasks":
            found.append(plan)
        for value in plan.values():
            found += _full_scans_of_tasks(value)
    elif isinstance(plan, list):
        for value in plan:
            found += _full_scans_of_tasks(value)
    return found


SEED_V2 = [
    # A third of the tasks are due (some with a time, one in ten in a zone of their own), one
    # in five carries tags, one in ten is a completed occurrence of a recurring task.
    """UPDATE tasks SET due_date = DATE '2030-01-01' + (abs(hashtext(id::text)) % 400),
              due_at = TIMESTAMPTZ '2030-01-01' + (abs(hashtext(id::text)) % 400) * interval '1 day'
       WHERE abs(hashtext(id::text)) % 3 = 0""",
    "UPDATE tasks SET series_id = id WHERE abs(hashtext(id::text)) % 10 = 1",
    """INSERT INTO tags (id, user_id, name, name_key)
       SELECT gen_random_uuid(), u.id, t.name, t.name
       FROM users AS u, (VALUES ('work'), ('home'), ('urgent')) AS t(name)""",
    """INSERT INTO task_tags (task_id, tag_id)
       SELECT tasks.id, tags.id FROM tasks JOIN tags ON tags.user_id = tasks.user_id
       WHERE abs(hashtext(tasks.id::text || tags.name)) % 5 = 0""",
    """UPDATE tasks SET remind_at = now() + (abs(hashtext(id::text)) % 1000) * interval '1 hour'
       WHERE abs(hashtext(id::text)) % 7 = 0""",
    "ANALYZE",
]

DUE_FILTERS: list[dict[str, Any]] = [
    {"tag": ["work"]},
    {"tag": ["work", "Urgent"]},
    {"due_after": "2030-02-01"},
    {"due_before": "2030-02-01"},
    {"due_after": "2030-02-01", "due_before": "2030-03-01"},
    {"has_due": True},
    {"has_due": False},
    {"overdue": True},
    {"overdue": False},
    {"series_id": uuid.uuid4()},
    {"tag": ["home"], "search": "task", "overdue": True, "status": "active", "priority": "Low"},
]
QUERIES = [
    *(TaskQuery(sort=sort) for sort in get_args(TaskSort)),
    TaskQuery(status="active", priority="High"),
    TaskQuery(search="task 1", status="completed"),
    TaskQuery(page=5, limit=20),
    # Every v2 filter, with the default sort and with both due sorts.
    *(
        TaskQuery.model_validate({**filters, "sort": sort})
        for filters in DUE_FILTERS
        for sort in ("-created_at", "due", "-due")
    ),
]


async def test_one_users_list_uses_an_index_not_a_table_scan(
    engine: AsyncEngine, is_postgres: bool
) -> None:
    async with engine.begin() as connection:
        owner = await _seed(connection, is_postgres)
        total = await connection.scalar(text("SELECT count(*) FROM tasks"))
        assert total == USERS * TASKS_PER_USER + (HEAVY_TASKS if is_postgres else 0)
        # PostgreSQL: the heavy user too, whose pages the planner may well plan otherwise.
        owners = [owner, await _heavy_user(connection)] if is_postgres else [owner]
        for user_id in owners:
            inbox = await connection.scalar(select(TaskList.id).where(TaskList.inbox_of == user_id))
            # v3: one list in manual order, its top level, one task's subtasks, assignments.
            in_lists = [
                TaskQuery.model_validate({"list_id": [str(inbox)], "sort": sort})
                for sort in ("position", "-created_at", "due")
            ]
            in_lists += [
                TaskQuery(top_level=True, sort="position"),
                TaskQuery(parent_id=uuid.uuid4()),
                TaskQuery(assignee="me"),
            ]
            for query in [*QUERIES, *in_lists]:
                # With a session to check: its condition is part of the page's plan.
                caller = Caller(user_id, uuid.uuid4())
                for statement in list_statements(caller=caller, query=query):
                    await _assert_uses_an_index(connection, engine, statement, is_postgres)
            # Pages of a full delta sync: the first, and one further on.
            for after in (None, uuid.UUID(int=2**127)):
                statement = full_sync_statement(user_id, after, 501)
                await _assert_uses_an_index(connection, engine, statement, is_postgres)
            # A delta sync page: the changes after a cursor, each joined to its task by id.
            values = {"owner_id": user_id, "session_id": uuid.uuid4(), "now": datetime.now(UTC)}
            delta = DELTA_PAGE[True].select.params(values, after=0, limit=501)
            await _assert_uses_an_index(connection, engine, delta, is_postgres)


async def _assert_uses_an_index(
    connection: AsyncConnection, engine: AsyncEngine, statement: Any, is_postgres: bool
) -> None:
    compiled = statement.compile(engine.sync_engine, compile_kwargs={"literal_binds": True})
    if is_postgres:
        plan = await connection.scalar(text(f"EXPLAIN (FORMAT JSON) {compiled}"))
        assert _full_scans_of_tasks(plan) == [], (str(compiled), plan)
    else:
        rows = (await connection.execute(text(f"EXPLAIN QUERY PLAN {compiled}"))).all()
        details = [row[-1] for row in rows]
        assert not any(d.startswith("SCAN tasks") for d in details), (str(compiled), details)
        assert any("USING" in d and "INDEX" in d for d in details), (str(compiled), details)


async def test_the_reminder_loop_reads_only_the_pending_ones_through_their_index(
    engine: AsyncEngine, settings: Settings, is_postgres: bool
) -> None:
    """The reminder loop's "which reminders are due now", as the loop itself sends it (captured
    while it runs: it once spelled `completed IS false`, which neither planner matches to the
    index's `NOT completed`, and read the whole tasks table every second in every worker, while
    a statement beside it passed this test): the partial index, not the table. On PostgreSQL in
    the custom plan and in the generic one a cached prepared statement switches to."""
    async with engine.begin() as connection:
        await _seed(connection, is_postgres)
    sent: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        sent.append((statement, parameters))

    database = create_database(engine, settings)
    event.listen(engine.sync_engine, "before_cursor_execute", capture)
    try:
        await deliver_due_reminders(database, EventHub(database, None))
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", capture)
    # Its first read: every user's due reminders (then it locks and delivers them per owner).
    reads = [(sql, values) for sql, values in sent if sql.lstrip().upper().startswith("SELECT")]
    statement, parameters = reads[0]
    assert "ORDER BY tasks.remind_at" in statement, statement
    async with engine.connect() as connection:
        if not is_postgres:
            rows = (
                await connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
            ).all()
            details = " ".join(row[-1] for row in rows)
            assert "ix_tasks_pending_reminders" in details, (statement, details)
            assert "SCAN tasks" not in details, (statement, details)
            return
        now, limit = parameters
        assert isinstance(now, datetime), parameters
        assert now.tzinfo is not None, parameters
        await connection.exec_driver_sql(f"PREPARE due_reminders AS {statement}")
        for mode in ("force_custom_plan", "force_generic_plan"):
            await connection.exec_driver_sql(f"SET plan_cache_mode = {mode}")
            plan = await connection.scalar(
                text(f"EXPLAIN (FORMAT JSON) EXECUTE due_reminders('{now.isoformat()}', {limit})")
            )
            assert _full_scans_of_tasks(plan) == [], (mode, statement, plan)
            assert "ix_tasks_pending_reminders" in json.dumps(plan), (mode, statement, plan)
        await connection.exec_driver_sql("RESET plan_cache_mode")
        await connection.exec_driver_sql("DEALLOCATE due_reminders")


SEED_SESSIONS = {
    # 20 sessions a user, alive; then one of ten users' expired and one of ten others' revoked,
    # both long ago: the few dead ones an hourly run finds.
    True: [
        SEED_POSTGRES[0],
        """INSERT INTO auth_sessions (id, user_id, created_at, expires_at)
           SELECT gen_random_uuid(), u.id, now(), now() + interval '5 days'
           FROM users AS u, generate_series(1, 20) AS n""",
        """UPDATE auth_sessions SET expires_at = now() - interval '60 days' WHERE id IN
           (SELECT min(s.id::text)::uuid FROM auth_sessions AS s JOIN users AS u
            ON u.id = s.user_id WHERE u.email LIKE 'u1_@%' GROUP BY u.id)""",
        """UPDATE auth_sessions SET revoked_at = now() - interval '45 days' WHERE id IN
           (SELECT min(s.id::text)::uuid FROM auth_sessions AS s JOIN users AS u
            ON u.id = s.user_id WHERE u.email LIKE 'u2_@%' GROUP BY u.id)""",
    ],
    False: [
        SEED_SQLITE[0],
        """WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20)
           INSERT INTO auth_sessions (id, user_id, created_at, expires_at)
           SELECT lower(hex(randomblob(16))), u.id, '2026-01-01 00:00:00.000000',
                  strftime('%Y-%m-%d %H:%M:%f000', 'now', '+5 days')
           FROM users AS u, n""",
        """UPDATE auth_sessions SET expires_at = strftime('%Y-%m-%d %H:%M:%f000', 'now',
           '-60 days') WHERE id IN (SELECT min(s.id) FROM auth_sessions AS s JOIN users AS u
           ON u.id = s.user_id WHERE u.email LIKE 'u1_@%' GROUP BY u.id)""",
        """UPDATE auth_sessions SET revoked_at = strftime('%Y-%m-%d %H:%M:%f000', 'now',
           '-45 days') WHERE id IN (SELECT min(s.id) FROM auth_sessions AS s JOIN users AS u
           ON u.id = s.user_id WHERE u.email LIKE 'u2_@%' GROUP BY u.id)""",
    ],
}


async def test_the_session_cleanup_finds_dead_sessions_through_its_indexes(
    engine: AsyncEngine, settings: Settings, is_postgres: bool
) -> None:
    """The hourly clean-up's "which sessions died over 30 days ago", as the job sends it: the
    two indexes of migration 0008, never the whole auth_sessions table (a row per sign-in)."""
    async with engine.begin() as connection:
        for statement in SEED_SESSIONS[is_postgres]:
            await connection.execute(text(statement), {"users": USERS})
        await connection.execute(text("ANALYZE"))
    sent: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        sent.append((statement, parameters))

    event.listen(engine.sync_engine, "before_cursor_execute", capture)
    try:
        deleted = await delete_dead_sessions(create_database(engine, settings))
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", capture)
    assert deleted == 20  # users u10-u19's expired one, u20-u29's revoked one
    statement, parameters = next(
        (sql, values) for sql, values in sent if sql.lstrip().upper().startswith("SELECT")
    )
    async with engine.connect() as connection:
        explained = await connection.exec_driver_sql(
            f"EXPLAIN {'(FORMAT JSON) ' if is_postgres else 'QUERY PLAN '}{statement}", parameters
        )
        plan = json.dumps([list(row) for row in explained.all()], default=str)
    assert "ix_auth_sessions_expires_at" in plan, (statement, plan)
    assert "ix_auth_sessions_revoked_at" in plan, (statement, plan)
    if is_postgres:
        assert '"Seq Scan"' not in plan, (statement, plan)
    else:
        assert "SCAN auth_sessions" not in plan.replace("SCAN auth_sessions USING", ""), plan
