"""The large data set of issue 17, part 3: 10,000 users x 100 tasks and one user with 50,000
(about 1.05 million tasks), seeded in SQL (`generate_series`) in a database of its own.

The same kind of data as seed.py's, in bulk: varied titles (1 in 20 mentions "invoice"), a
description for 6 in 10, 3 in 10 completed, 0-3 tags each from the same 8 words (in `tags` and
`task_tags`, as the app keeps them), a due date for 4 in 10 (a third of them past, so about 1
task in 11 is overdue; half with a time, some in a zone of their own), a weekly recurrence for
1 in 10 of those and a reminder for 1 in 4 (the past ones already delivered, so the server's
reminder loop has nothing to do). `search_text` is what app.tasks.listing.search_text makes
(ASCII only here, where lower() is casefold()). Indexes are dropped for the bulk insert and
built again from their own definitions, which is several times faster than keeping them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from common import say
from seed import DESCRIPTIONS, TAGS, TIME_ZONES, TITLE_NOUNS, TITLE_VERBS, Seeded, asyncpg_dsn

LARGE_USERS = 10_000
LARGE_TASKS_PER_USER = 100
HEAVY_TASKS = 50_000
HEAVY_EMAIL = "bench-heavy@example.com"


def _array(values: list[str | None]) -> str:
    items = ["NULL" if v is None else "'" + v.replace("'", "''") + "'" for v in values]
    return "(ARRAY[" + ", ".join(items) + "]::text[])"


VERBS, NOUNS, TAG_WORDS, ZONES = _array(TITLE_VERBS), _array(TITLE_NOUNS), _array(TAGS), _array(TIME_ZONES)
DESCRIPTION_FORMS = _array([d.replace("{n}", "%s") for d in DESCRIPTIONS])

# Users 1..N are ordinary; user 0 is the heavy one.
SEED_USERS = """
CREATE TEMP TABLE seed_users AS
SELECT n, gen_random_uuid() AS id, gen_random_uuid() AS session_id FROM generate_series(0, $1::int) AS n;
"""
INSERT_USERS = f"""
INSERT INTO users (id, email, name, password_hash, created_at, updated_at)
SELECT id, CASE WHEN n = 0 THEN '{HEAVY_EMAIL}' ELSE 'bench-large-' || n || '@example.com' END,
       'Bench User ' || n, $1, now() - interval '120 days', now() - interval '120 days'
FROM seed_users
"""
INSERT_SESSIONS = """
INSERT INTO auth_sessions (id, user_id, created_at, expires_at)
SELECT session_id, id, now(), now() + interval '7 days' FROM seed_users
"""
INSERT_TAGS = f"""
INSERT INTO tags (id, user_id, name, name_key)
SELECT gen_random_uuid(), u.id, t.name, t.name FROM seed_users AS u, unnest({TAG_WORDS}) AS t(name)
"""
# Random draws first (r), then what they make (d), then the row.
INSERT_TASKS = f"""
INSERT INTO tasks (id, user_id, title, description, completed, priority, search_text, created_at,
                   updated_at, due_date, due_time, time_zone, due_at, recurrence, recurrence_anchor,
                   remind_at, reminded_at, tags, version)
SELECT id, user_id, title, description, completed, priority,
       lower(title) || chr(31) || lower(coalesce(description, ''))
           || coalesce((SELECT string_agg(chr(31) || lower(t), '' ORDER BY o)
                        FROM unnest(tags) WITH ORDINALITY AS x(t, o)), ''),
       created_at, least(created_at + r_updated * interval '1 day', now()),
       due_date, due_time, time_zone, due_at,
       CASE WHEN due_date IS NOT NULL AND r_recurring < 0.1 THEN 'FREQ=WEEKLY;BYDAY=MO' END,
       CASE WHEN due_date IS NOT NULL AND r_recurring < 0.1 THEN due_date END,
       CASE WHEN due_at IS NOT NULL AND r_remind < 0.25 THEN due_at - interval '1 hour' END,
       CASE WHEN due_at IS NOT NULL AND r_remind < 0.25 AND due_at - interval '1 hour' < now()
            THEN due_at - interval '1 hour' END,
       to_json(tags), 1
FROM (
    SELECT d.*,
           CASE WHEN due_date IS NOT NULL THEN timezone(
               coalesce(time_zone, 'UTC'),
               CASE WHEN due_time IS NULL THEN (due_date + 1)::timestamp ELSE due_date + due_time END
           ) END AS due_at
    FROM (
        SELECT gen_random_uuid() AS id, r.user_id,
               {VERBS}[1 + floor(r.r_verb * 10)::int] || ' ' || {NOUNS}[1 + floor(r.r_noun * 20)::int]
                   || ' #' || r.j AS title,
               CASE WHEN r.r_described < 0.6 THEN format(
                   {DESCRIPTION_FORMS}[1 + floor(r.r_form * 4)::int], {NOUNS}[1 + floor(r.r_noun2 * 20)::int]
               ) END AS description,
               r.r_completed < 0.3 AS completed,
               (ARRAY[1, 2, 2, 3])[1 + floor(r.r_priority * 4)::int] AS priority,
               now() - interval '90 days' + r.r_created * interval '90 days' AS created_at,
               (ARRAY[{TAG_WORDS}[1 + r.tag_first], {TAG_WORDS}[1 + (r.tag_first + 3) % 8],
                      {TAG_WORDS}[1 + (r.tag_first + 5) % 8]])[1:r.tag_count] AS tags,
               CASE WHEN r.r_due < 0.4 THEN current_date + r.due_offset END AS due_date,
               CASE WHEN r.r_due < 0.4 AND r.r_timed < 0.5
                    THEN make_time(8 + floor(r.r_hour * 12)::int, 30 * floor(r.r_half * 2)::int, 0) END
                   AS due_time,
               CASE WHEN r.r_due < 0.4 THEN {ZONES}[1 + floor(r.r_zone * 5)::int] END AS time_zone,
               r.r_updated, r.r_recurring, r.r_remind
        FROM (
            SELECT u.id AS user_id, j, random() AS r_verb, random() AS r_noun, random() AS r_noun2,
                   random() AS r_described, random() AS r_form, random() AS r_completed,
                   random() AS r_priority, random() AS r_created, random() AS r_updated,
                   floor(random() * 4)::int AS tag_count, floor(random() * 8)::int AS tag_first,
                   random() AS r_due, floor(random() * 90)::int - 30 AS due_offset,
                   random() AS r_timed, random() AS r_hour, random() AS r_half, random() AS r_zone,
                   random() AS r_recurring, random() AS r_remind
            FROM seed_users AS u,
                 generate_series(1, CASE WHEN u.n = 0 THEN $1::int ELSE $2::int END) AS j
        ) AS r
    ) AS d
) AS tasks_to_be
"""
INSERT_TASK_TAGS = """
INSERT INTO task_tags (task_id, tag_id)
SELECT t.id, g.id
FROM tasks AS t, json_array_elements_text(t.tags) AS x(name), tags AS g
WHERE g.user_id = t.user_id AND g.name_key = x.name
"""
INDEXES = """
SELECT indexname, indexdef FROM pg_indexes
WHERE schemaname = current_schema() AND tablename = ANY($1::text[])
  AND indexname NOT IN (SELECT conname FROM pg_constraint)
"""


@dataclass
class LargeSeeded:
    ordinary: Seeded  # LARGE_USERS ordinary users, spread out (for one user per connection)
    heavy: Seeded  # the one user with HEAVY_TASKS tasks
    tasks: int
    seconds: float


async def seed_large(url: str, password_hash: str, connections: int) -> LargeSeeded:
    """Seed the (freshly migrated) database at `url`; `connections` ordinary users get tokens."""
    import asyncpg

    started = time.monotonic()
    connection = await asyncpg.connect(asyncpg_dsn(url))
    try:
        await connection.execute("SET maintenance_work_mem = '512MB'")
        await connection.execute("SELECT setseed(0.20261201)")
        # Bulk load: no per-row foreign key triggers (the rows are consistent by construction)...
        replica = await connection.fetchval("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        if replica:
            await connection.execute("SET session_replication_role = replica")
        # ...and the secondary indexes built once at the end, from their own definitions.
        indexes = await connection.fetch(INDEXES, ["tasks", "task_tags", "tags"])
        for index in indexes:
            await connection.execute(f'DROP INDEX "{index["indexname"]}"')
        await connection.execute(SEED_USERS, LARGE_USERS)
        await connection.execute(INSERT_USERS, password_hash)
        await connection.execute(INSERT_SESSIONS)
        await connection.execute(INSERT_TAGS)
        await connection.execute(INSERT_TASKS, HEAVY_TASKS, LARGE_TASKS_PER_USER)
        await connection.execute(INSERT_TASK_TAGS)
        loaded = time.monotonic()
        for index in indexes:
            await connection.execute(index["indexdef"])
        await connection.execute("SET session_replication_role = DEFAULT")
        indexed = time.monotonic()
        await connection.execute("VACUUM ANALYZE")
        say(
            f"  rows in {loaded - started:.1f} s, {len(indexes)} secondary indexes in "
            f"{indexed - loaded:.1f} s, VACUUM ANALYZE in {time.monotonic() - indexed:.1f} s"
        )
        step = max(1, LARGE_USERS // connections)
        rows = await connection.fetch(
            "SELECT s.n, s.id, s.session_id,"
            " (SELECT t.id FROM tasks AS t WHERE t.user_id = s.id ORDER BY t.id LIMIT 1) AS task_id"
            " FROM seed_users AS s WHERE s.n = 0 OR s.n % $1 = 1 ORDER BY s.n",
            step,
        )
        total = await connection.fetchval("SELECT count(*) FROM tasks")
    finally:
        await connection.close()

    def seeded(picked: list[asyncpg.Record]) -> Seeded:
        return Seeded(
            user_ids=[r["id"] for r in picked],
            emails=[HEAVY_EMAIL if r["n"] == 0 else f"bench-large-{r['n']}@example.com" for r in picked],
            session_ids=[r["session_id"] for r in picked],
            task_ids=[r["task_id"] for r in picked],
        )

    return LargeSeeded(
        ordinary=seeded([r for r in rows if r["n"] != 0]),
        heavy=seeded([r for r in rows if r["n"] == 0]),
        tasks=int(total),
        seconds=time.monotonic() - started,
    )
