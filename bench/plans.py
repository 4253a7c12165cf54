"""Query plans: EXPLAIN (ANALYZE, BUFFERS) of the statements the app itself sends, captured while
it runs its own list and session queries for one seeded user."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from common import SEARCH_WORD, say
from seed import Seeded, asyncpg_dsn


def sql_literal(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, datetime):
        return "'" + value.isoformat() + "'"
    return "'" + str(value).replace("'", "''") + "'"


async def explain_plans(settings: Any, seeded: Seeded) -> bool:
    """EXPLAIN the statements the app itself builds (captured from app.accounts and app.tasks), for one user."""
    import asyncpg
    from app.accounts.sessions import Caller, get_user_for_session
    from app.core.database import create_database, create_engine
    from app.tasks.listing import list_tasks
    from app.tasks.schemas import TaskQuery
    from sqlalchemy import event

    engine = create_engine(settings)
    database = create_database(engine, settings)
    captured: list[tuple[str, tuple[Any, ...]]] = []

    # The app sends its hot SELECTs straight to asyncpg (app.core.statements.fetch_all) and the rest
    # through SQLAlchemy: listen to both.
    def through_sqlalchemy(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        captured.append((statement, tuple(parameters or ())))

    def through_asyncpg(query: Any) -> None:
        captured.append((query.query, tuple(query.args or ())))

    event.listen(engine.sync_engine, "before_cursor_execute", through_sqlalchemy)
    user_id, session_id = seeded.user_ids[0], seeded.session_ids[0]
    caller = Caller(user_id, session_id)
    labelled: list[tuple[str, str, tuple[Any, ...]]] = []
    async with database.reader.connect() as connection:
        driver = (await connection.get_raw_connection()).driver_connection
        driver.add_query_logger(through_asyncpg)
        for label, call in (
            (
                "session lookup (every authenticated request but the task reads)",
                get_user_for_session(connection=connection, user_id=user_id, session_id=session_id),
            ),
            (
                "default list (sort=-created_at, page 1, limit 20; checks the session too)",
                list_tasks(connection=connection, caller=caller, query=TaskQuery()),
            ),
            (
                f"filtered list (status=active&search={SEARCH_WORD})",
                list_tasks(
                    connection=connection,
                    caller=caller,
                    query=TaskQuery(status="active", search=SEARCH_WORD),
                ),
            ),
        ):
            before = len(captured)
            await call
            await asyncio.sleep(0)  # asyncpg calls its query loggers with call_soon
            sent = captured[before:]
            for number, (statement, params) in enumerate(sent, start=1):
                # A call that sends several statements gets them numbered.
                name = f"{label}, statement {number} of {len(sent)}" if len(sent) > 1 else label
                labelled.append((name, statement, params))
        driver.remove_query_logger(through_asyncpg)
    await engine.dispose()

    seq_scans = 0
    connection = await asyncpg.connect(asyncpg_dsn(settings.database_url.replace("+asyncpg", "")))
    try:
        for index, (label, statement, params) in enumerate(labelled):
            say(f"--- {label}")
            say("    " + " ".join(statement.split()))
            say(f"    parameters: {', '.join(sql_literal(p) for p in params)}")
            say("  custom plan (what PostgreSQL picks for these values):")
            rows = await connection.fetch(f"EXPLAIN (ANALYZE, BUFFERS) {statement}", *params)
            plan = [row[0] for row in rows]
            # asyncpg keeps prepared statements: after 5 runs PostgreSQL may switch to a generic
            # plan, made without the values. Show that one too.
            name = f"bench_q{index}"
            await connection.execute(f"PREPARE {name} AS {statement}")
            await connection.execute("SET plan_cache_mode = force_generic_plan")
            args = ", ".join(sql_literal(p) for p in params)
            rows = await connection.fetch(
                f"EXPLAIN (ANALYZE, BUFFERS) EXECUTE {name}({args})"
                if params
                else f"EXPLAIN (ANALYZE, BUFFERS) EXECUTE {name}"
            )
            await connection.execute("RESET plan_cache_mode")
            generic = [row[0] for row in rows]
            for line in plan:
                say("    " + line)
            say("  generic plan (what a cached prepared statement may use):")
            for line in generic:
                say("    " + line)
            seq_scans += sum("Seq Scan on tasks" in line for line in plan + generic)
    finally:
        await connection.close()
    return seq_scans == 0
