"""`python -m app run|serve|migrate|openapi`: what `make run`, `make serve`, `make migrate` and
`make openapi` call."""

import argparse
import json
import os
import shutil
import signal
import sys
import tempfile
from types import FrameType

import uvicorn
from pydantic import ValidationError

from app.core.config import Settings, SettingsError, load_settings
from app.core.logs import configure_logging
from app.core.metrics_directory import (
    make_multiprocess_directory,
    remove_multiprocess_directory,
)
from app.core.migrations import upgrade_to_head


def _settings_or_exit() -> Settings:
    try:
        return load_settings()
    except (ValidationError, SettingsError) as exc:
        errors = exc.errors() if isinstance(exc, ValidationError) else []
        lines = [
            f"{'.'.join(str(p) for p in e['loc']).upper() or 'settings'}: {e['msg']}".replace(
                "settings: Value error, ", ""
            )
            for e in errors
        ] or [str(exc)]
        for line in lines:
            print(f"error: {line}", file=sys.stderr)
        raise SystemExit(2) from None


def _exit_cleanly(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


def openapi_document() -> str:
    """The OpenAPI document as the service serves it, formatted for a reviewable diff. It does not
    depend on settings: a throwaway in-memory database and key are enough to build it."""
    from app.main import create_app

    settings = Settings(database_url="sqlite://", jwt_secret="openapi-" + "x" * 40, _env_file=None)
    return json.dumps(create_app(settings).openapi(), indent=2, ensure_ascii=False)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m app")
    parser.add_argument("command", choices=["run", "serve", "migrate", "openapi"])
    command = parser.parse_args().command
    if command == "openapi":
        print(openapi_document())
        return

    settings = _settings_or_exit()
    configure_logging(settings)
    if command == "migrate":
        upgrade_to_head(settings)
        return
    # Before anything imports prometheus_client, here and in the workers (app.core.metrics).
    metrics_directory = make_multiprocess_directory() if settings.metrics_enabled else None
    try:
        _serve(command, settings)
    finally:
        if metrics_directory is not None:
            remove_multiprocess_directory(metrics_directory)


def _serve(command: str, settings: Settings) -> None:
    if settings.migrate_on_start:
        # Once, here, before any worker starts.
        upgrade_to_head(settings)
    workers = settings.workers or (os.cpu_count() or 1 if command == "serve" else 1)
    # uvicorn shuts down gracefully on SIGTERM, then raises the signal again for the handler that
    # was installed before it: without this one, the default, the process would die of SIGTERM
    # (exit -15) after a clean shutdown. A finished graceful shutdown exits 0.
    signal.signal(signal.SIGTERM, _exit_cleanly)
    # The per-user stream limit holds for the instance, whatever its worker count: the workers
    # share it through lock files in a directory of this start's own (app.sync.slots).
    slots_dir = tempfile.mkdtemp(prefix="todo-streams-")
    os.environ["STREAM_SLOTS_DIR"] = slots_dir
    try:
        _run_uvicorn(settings, workers)
    finally:
        shutil.rmtree(slots_dir, ignore_errors=True)


def _run_uvicorn(settings: Settings, workers: int) -> None:
    uvicorn.run(
        "app.main:create_served_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=workers,
        log_config=None,
        access_log=False,
        server_header=False,
        proxy_headers=True,
        # The drain comes first (app.core.drain): both together take GRACEFUL_SHUTDOWN_SECONDS.
        timeout_graceful_shutdown=max(
            1, int(settings.graceful_shutdown_seconds - settings.shutdown_drain_seconds)
        ),
    )


if __name__ == "__main__":
    main()
