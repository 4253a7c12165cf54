"""The benchmark's PostgreSQL database: recreated for every run, migrated, and seeded with COPY
(1,000 users x 100 tasks by default, one shared password hash, one session per user)."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit, urlunsplit

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


@dataclass
class Seeded:
    user_ids: list[uuid.UUID]
    emails: list[str]
    session_ids: list[uuid.UUID]
    task_ids: list[uuid.UUID]  # one task of each user, for GET /api/tasks/{id}


async def seed(url: str, password_hash: str, search_text: Any) -> Seeded:
    import asyncpg

    rng = random.Random(20261125)
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

        tasks: list[tuple[Any, ...]] = []
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
                tasks.append(
                    (
                        task_id,
                        uid,
                        title,
                        description,
                        rng.random() < 0.3,
                        rng.choice((1, 2, 2, 3)),
                        search_text(title, description),
                        created,
                        updated,
                    )
                )
        await connection.copy_records_to_table(
            "tasks",
            records=tasks,
            columns=[
                "id",
                "user_id",
                "title",
                "description",
                "completed",
                "priority",
                "search_text",
                "created_at",
                "updated_at",
            ],
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
    return Seeded(user_ids, emails, session_ids, first_tasks)


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
