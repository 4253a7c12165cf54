"""The benchmark's PostgreSQL database: recreated for every run, migrated, and seeded with COPY
(1,000 users x 100 tasks by default, one shared password hash, one session per user), plus the
raw reference's own table with the same tasks (bench/reference_app.py)."""

from __future__ import annotations

import inspect
import json
import os
import random
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo

from common import BACKEND, TASKS_PER_USER, USERS, fail


def asyncpg_dsn(url: str, database: str | None = None) -> str:
    parts = urlsplit(url)
    scheme = "postgresql"
    path = f"/{database}" if database is not None else parts.path
    query = "&".join(q for q in parts.query.split("&") if q and not q.startswith("channel_binding"))
    return urlunsplit((scheme, parts.netloc, path, query, ""))


def database_name(url: str) -> str:
    name = urlsplit(url).path.lstrip("/")
    if not name:
        fail(f"BENCH_DATABASE_URL names no database: {url}")
    return name


async def recreate_database(url: str) -> None:
    import asyncpg

    name = database_name(url)
    if "bench" not in name and os.environ.get("BENCH_ALLOW_DROP") != "1":
        fail(
            f"refusing to drop and recreate database {name!r}: its name does not contain "
            "'bench'. Use a database of its own, or set BENCH_ALLOW_DROP=1."
        )
    connection = await asyncpg.connect(asyncpg_dsn(url, "postgres"))
    try:
        quoted = '"' + name.replace('"', '""') + '"'
        await connection.execute(f"DROP DATABASE IF EXISTS {quoted} WITH (FORCE)")
        await connection.execute(f"CREATE DATABASE {quoted}")
    finally:
        await connection.close()


TITLE_VERBS = ["Buy", "Call", "Email", "Fix", "Plan", "Review", "Pay", "Book", "Clean", "Write"]
TITLE_NOUNS = [
    "milk",
    "dentist",
    "invoice",
    "report",
    "garden",
    "flight",
    "budget",
    "laundry",
    "backup",
    "birthday gift",
    "taxes",
    "meeting notes",
    "car service",
    "groceries",
    "slides",
    "newsletter",
    "insurance",
    "bike",
    "passport",
    "roof",
]
DESCRIPTIONS = [
    "Before Friday, ask about the {n}.",
    "Check the {n} twice and send a summary.",
    "Low effort; do it with the {n}.",
    "Waiting on someone else for the {n}.",
]


# v2 members (API.md, "v2 additions"). The reference table has them all now; our `tasks` gets
# each one its schema has (seed_columns), the same values for the same task.
TAGS = ["work", "home", "errands", "finance", "health", "family", "urgent", "someday"]
TIME_ZONES = [None, None, "Europe/Berlin", "America/New_York", "Asia/Tokyo"]  # None: the user's (UTC)
V1_COLUMNS = [
    "id",
    "user_id",
    "title",
    "description",
    "completed",
    "priority",
    "search_text",
    "created_at",
    "updated_at",
]
V2_COLUMNS = [
    "due_date",
    "due_time",
    "time_zone",
    "due_at",
    "recurrence",
    "remind_at",
    "reminded_at",
    "tags",
    "series_id",
    "version",
]
REFERENCE_TABLE = """
CREATE TABLE reference_tasks (
    id uuid PRIMARY KEY,
    user_id uuid NOT NULL,
    title varchar(200) NOT NULL,
    description text,
    completed boolean NOT NULL,
    priority smallint NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    due_date date,
    due_time time,
    time_zone text,
    due_at timestamptz,
    recurrence text,
    remind_at timestamptz,
    reminded_at timestamptz,
    tags text[] NOT NULL DEFAULT '{}',
    series_id uuid,
    version integer NOT NULL DEFAULT 1
);
CREATE INDEX reference_tasks_user_created ON reference_tasks (user_id, created_at, id);
"""


@dataclass
class Seeded:
    user_ids: list[uuid.UUID]
    emails: list[str]
    session_ids: list[uuid.UUID]
    task_ids: list[uuid.UUID]  # one task of each user, for GET /api/tasks/{id}
    v2_in_tasks: list[str] = field(default_factory=list)  # the v2 members our `tasks` table got


def v2_members(rng: random.Random, now: datetime) -> dict[str, Any]:
    """Tags (0-3 of TAGS) for every task; a due date for about 4 in 10, with a time for half of
    those, some in a zone of their own; a weekly recurrence or a reminder for a few."""
    members: dict[str, Any] = dict.fromkeys(V2_COLUMNS)
    members["tags"] = rng.sample(TAGS, rng.randrange(4))
    members["version"] = 1
    if rng.random() < 0.4:
        zone = rng.choice(TIME_ZONES)
        due_date = (now + timedelta(days=rng.randrange(-30, 60))).date()
        due_time = time(rng.randrange(8, 20), rng.choice((0, 30))) if rng.random() < 0.5 else None
        where = ZoneInfo(zone or "UTC")
        # An all-day task is due at the first instant after its day.
        local = (
            datetime.combine(due_date, due_time, where)
            if due_time
            else datetime.combine(due_date + timedelta(days=1), time(0), where)
        )
        members.update(due_date=due_date, due_time=due_time, time_zone=zone, due_at=local.astimezone(UTC))
        if rng.random() < 0.1:
            members["recurrence"] = "FREQ=WEEKLY;BYDAY=MO"
        if rng.random() < 0.25:
            members["remind_at"] = members["due_at"] - timedelta(hours=1)
            # A reminder in the past was delivered then: else the workers' reminder loop would
            # deliver thousands of them (writes) during the first scenarios.
            if members["remind_at"] <= now:
                members["reminded_at"] = members["remind_at"]
    return members


async def seed(url: str, password_hash: str, search_text: Any) -> Seeded:
    import asyncpg

    rng = random.Random(20261125)
    rng_v2 = random.Random(20261201)  # its own stream: the v1 members stay those of earlier runs
    now = datetime.now(UTC)
    connection = await asyncpg.connect(asyncpg_dsn(url))
    try:
        user_ids = [uuid.uuid4() for _ in range(USERS)]
        emails = [f"bench-user-{i:04d}@example.com" for i in range(USERS)]
        users = [
            (
                uid,
                email,
                f"Bench User {i}",
                password_hash,
                now - timedelta(days=120),
                now - timedelta(days=120),
            )
            for i, (uid, email) in enumerate(zip(user_ids, emails, strict=True))
        ]
        await connection.copy_records_to_table(
            "users",
            records=users,
            columns=["id", "email", "name", "password_hash", "created_at", "updated_at"],
        )

        # Search matches tags too once the schema has them (v2): then search_text takes them.
        with_tags = "tags" in inspect.signature(search_text).parameters
        tasks: list[dict[str, Any]] = []
        first_tasks: list[uuid.UUID] = []
        for uid in user_ids:
            for j in range(TASKS_PER_USER):
                task_id = uuid.uuid4()
                if j == 0:
                    first_tasks.append(task_id)
                noun = rng.choice(TITLE_NOUNS)
                title = f"{rng.choice(TITLE_VERBS)} {noun} #{j}"
                description = rng.choice(DESCRIPTIONS).format(n=rng.choice(TITLE_NOUNS)) if rng.random() < 0.6 else None
                created = now - timedelta(days=90) + timedelta(seconds=rng.randrange(90 * 86400))
                updated = created + timedelta(seconds=rng.randrange(86400))
                task = {
                    "id": task_id,
                    "user_id": uid,
                    "title": title,
                    "description": description,
                    "completed": rng.random() < 0.3,
                    "priority": rng.choice((1, 2, 2, 3)),
                    "created_at": created,
                    "updated_at": updated,
                    **v2_members(rng_v2, now),
                }
                task["search_text"] = (
                    search_text(title, description, tags=task["tags"]) if with_tags else search_text(title, description)
                )
                tasks.append(task)
        v2_in_tasks = await copy_tasks(connection, tasks)
        await connection.execute(REFERENCE_TABLE)
        reference_columns = [c for c in V1_COLUMNS if c != "search_text"] + V2_COLUMNS
        await connection.copy_records_to_table(
            "reference_tasks",
            records=[tuple(task[c] for c in reference_columns) for task in tasks],
            columns=reference_columns,
        )

        # One login session per user, as /api/auth/login would create (access tokens name it).
        session_ids = [uuid.uuid4() for _ in range(USERS)]
        await connection.copy_records_to_table(
            "auth_sessions",
            records=[(sid, uid, now, now + timedelta(days=7)) for sid, uid in zip(session_ids, user_ids, strict=True)],
            columns=["id", "user_id", "created_at", "expires_at"],
        )
        await connection.execute("VACUUM ANALYZE")
    finally:
        await connection.close()
    return Seeded(user_ids, emails, session_ids, first_tasks, v2_in_tasks)


async def copy_tasks(connection: Any, tasks: list[dict[str, Any]]) -> list[str]:
    """COPY the tasks into our `tasks` table: the v1 columns, and each v2 member its schema has
    as a column of that name (tags as an array or JSON). Returns the v2 members it wrote."""
    types = {
        row["column_name"]: row["data_type"]
        for row in await connection.fetch(
            "SELECT column_name, data_type FROM information_schema.columns"
            " WHERE table_schema = current_schema() AND table_name = 'tasks'"
        )
    }
    v2 = [c for c in V2_COLUMNS if c in types and (c != "tags" or types[c] in ("ARRAY", "json", "jsonb"))]
    as_json = types.get("tags") in ("json", "jsonb")
    columns = V1_COLUMNS + v2
    records = [tuple(json.dumps(task[c]) if c == "tags" and as_json else task[c] for c in columns) for task in tasks]
    await connection.copy_records_to_table("tasks", records=records, columns=columns)
    return v2


def migrate(env: dict[str, str]) -> None:
    """`python -m app migrate` with the server's environment: the schema as production gets it."""
    migrate = subprocess.run(
        [sys.executable, "-m", "app", "migrate"],
        cwd=BACKEND,
        env=env,
        capture_output=True,
        text=True,
    )
    if migrate.returncode != 0:
        fail(f"`python -m app migrate` failed:\n{migrate.stdout}\n{migrate.stderr}")
