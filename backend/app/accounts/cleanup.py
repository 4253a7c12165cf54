"""Dead sessions are deleted some time after they die: expired or revoked more than
SESSION_RETENTION ago, with their refresh tokens (the foreign key cascades). Until then a
reused refresh token of a revoked session is still recognised, and answered as such.

A periodic job (`app.core.background`): each batch is found on the reader (no lock on SQLite)
and deleted by primary key in its own short transaction, so a request never waits long behind
it; several workers running it at once delete each session once."""

from datetime import datetime, timedelta
from functools import partial

from sqlalchemy import delete, or_, select

from app.accounts.models import AuthSession
from app.core.background import PeriodicJob
from app.core.database import Database
from app.core.models import utcnow

SESSION_RETENTION = timedelta(days=30)
CLEANUP_EVERY_SECONDS = 3600
BATCH_SIZE = 500
MAX_BATCHES = 20  # per run: at most 10,000 sessions, the rest at the next run


async def delete_dead_sessions(
    database: Database,
    *,
    now: datetime | None = None,
    batch_size: int = BATCH_SIZE,
    max_batches: int = MAX_BATCHES,
) -> int:
    """Delete sessions dead for longer than SESSION_RETENTION; returns how many."""
    cutoff = (now or utcnow()) - SESSION_RETENTION
    dead = (
        select(AuthSession.id)
        .where(or_(AuthSession.expires_at < cutoff, AuthSession.revoked_at < cutoff))
        .limit(batch_size)
    )
    deleted = 0
    for _ in range(max_batches):
        async with database.admitted(), database.reader.connect() as connection:
            ids = list((await connection.execute(dead)).scalars())
        if ids:
            async with database.admitted(), database.engine.begin() as connection:
                await connection.execute(delete(AuthSession).where(AuthSession.id.in_(ids)))
            deleted += len(ids)
        if len(ids) < batch_size:
            break
    return deleted


def session_cleanup_job(database: Database) -> PeriodicJob:
    return PeriodicJob(
        "session cleanup", every=CLEANUP_EVERY_SECONDS, run=partial(delete_dead_sessions, database)
    )
