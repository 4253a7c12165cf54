"""Periodic jobs: small units of upkeep (deleting old sessions, pruning logs) that run in each
worker beside the requests, started and stopped by the app's lifespan.

A job is an async function of no arguments, run at start and then every `every` seconds
(± 10 %, so that workers started together spread out). Every worker of every instance runs
every job, so a job must be safe to run concurrently with itself and bounded: a few batches
with a LIMIT, each in its own short transaction, and whatever is left waits for the next
period. A run that fails (the database is down, say) is logged, and the job runs again at its
next period; a run that takes longer than `timeout` is cancelled. Shutdown cancels the jobs at
once: a cancelled batch rolls back, and the next start picks up where it stopped.

To add a job, give `BackgroundJobs` in `app.main` one more `PeriodicJob("name", every=60,
run=partial(f, database))`, made by the domain the job belongs to (see `accounts.cleanup`).
"""

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from app.core.database import is_unavailable

logger = logging.getLogger("app.background")

JITTER = 0.1


@dataclass(frozen=True)
class PeriodicJob:
    name: str
    every: float  # seconds between the end of one run and the start of the next
    run: Callable[[], Awaitable[object]]
    timeout: float = 60.0


class BackgroundJobs:
    """Runs its jobs while started; `start` and `stop` are called by the lifespan."""

    def __init__(self, jobs: Sequence[PeriodicJob] = ()) -> None:
        self.jobs = tuple(jobs)
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._keep_running(job), name=f"job {job.name}")
            for job in self.jobs
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    async def _keep_running(self, job: PeriodicJob) -> None:
        while True:
            await run_once(job)
            await asyncio.sleep(job.every * random.uniform(1 - JITTER, 1 + JITTER))


async def run_once(job: PeriodicJob) -> bool:
    """Run the job once; False (and a log line) when it failed."""
    try:
        async with asyncio.timeout(job.timeout):
            await job.run()
    except Exception as exc:
        if is_unavailable(exc):  # timeouts included
            logger.warning(
                "job %s: the database is unavailable or slow (%s); next run in %ss",
                job.name,
                type(exc).__name__,
                job.every,
            )
        else:
            logger.exception("job %s failed; next run in %ss", job.name, job.every)
        return False
    return True
