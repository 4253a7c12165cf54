"""The periodic-job runner: a failing run (a bug, or the database down) is logged and the job
runs again at its next period; the app starts and serves meanwhile; shutdown stops a job at
once, even in the middle of a run."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from app.core.background import BackgroundJobs, PeriodicJob
from app.main import create_app
from tests.conftest import make_client, make_settings

pytestmark = pytest.mark.anyio


@asynccontextmanager
async def running(jobs: BackgroundJobs) -> AsyncIterator[None]:
    await jobs.start()
    try:
        yield
    finally:
        async with asyncio.timeout(5):
            await jobs.stop()


async def test_a_failing_run_does_not_stop_the_job(caplog: pytest.LogCaptureFixture) -> None:
    runs: list[int] = []

    async def flaky() -> None:
        runs.append(len(runs))
        if len(runs) <= 2:
            raise RuntimeError("a bug in this run")

    async with running(BackgroundJobs([PeriodicJob("flaky", every=0.01, run=flaky)])):
        async with asyncio.timeout(5):
            while len(runs) < 4:
                await asyncio.sleep(0.01)
    failures = [r for r in caplog.records if r.name == "app.background" and r.exc_info]
    assert len(failures) == 2
    assert "flaky" in failures[0].getMessage()


async def test_a_job_that_takes_too_long_is_cancelled_and_runs_again() -> None:
    runs = 0

    async def stuck() -> None:
        nonlocal runs
        runs += 1
        await asyncio.sleep(3600)

    async with running(BackgroundJobs([PeriodicJob("stuck", every=0.01, run=stuck, timeout=0.05)])):
        async with asyncio.timeout(5):
            while runs < 3:
                await asyncio.sleep(0.01)


async def test_stop_ends_a_job_in_the_middle_of_a_run() -> None:
    started, finished = asyncio.Event(), asyncio.Event()

    async def long_run() -> None:
        started.set()
        await asyncio.sleep(3600)
        finished.set()

    jobs = BackgroundJobs([PeriodicJob("long", every=3600, run=long_run, timeout=7200)])
    await jobs.start()
    async with asyncio.timeout(5):
        await started.wait()
        await jobs.stop()
    assert not finished.is_set()
    assert not [task for task in asyncio.all_tasks() if task.get_name() == "job long"]


async def test_the_app_starts_and_answers_while_the_database_is_down(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The session cleanup runs at start against a database that refuses connections: it logs
    a warning and waits for its next period; start-up, requests and shutdown go on."""
    app = create_app(make_settings("postgresql://postgres@127.0.0.1:9/none", db_connect_timeout=2))
    # The timeout covers the shutdown too: a job sleeping until its next run must not hold it.
    async with asyncio.timeout(15), app.router.lifespan_context(app), make_client(app) as client:
        while "session cleanup" not in caplog.text:
            await asyncio.sleep(0.05)
        health = await client.get("/api/health")
    assert health.status_code == 503
    # One warning per job that ran (the sync domain's jobs run at start too), no error.
    warnings = [r for r in caplog.records if r.name == "app.background"]
    assert warnings
    assert {r.levelname for r in warnings} == {"WARNING"}
    assert all("unavailable" in r.getMessage() for r in warnings)
