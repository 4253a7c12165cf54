"""Logging: readable lines by default, one JSON object per line with LOG_FORMAT=json."""

import json
import logging
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from app.core.config import Settings

_HANDLER_NAME = "todo-api"
# The trace id of the request being handled, when tracing is on (set by app.core.tracing).
TRACE_ID: ContextVar[str | None] = ContextVar("trace_id", default=None)
_default_record_factory = logging.getLogRecordFactory()


def _record_with_trace_id(*args: Any, **kwargs: Any) -> logging.LogRecord:
    record = _default_record_factory(*args, **kwargs)
    record.trace_id = TRACE_ID.get()
    return record


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        http = getattr(record, "http", None)
        if isinstance(http, dict):
            entry.update(http)
        trace_id = getattr(record, "trace_id", None)
        if trace_id:
            entry["trace_id"] = trace_id
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        http = getattr(record, "http", None)
        if isinstance(http, dict):
            line += f" {http['duration_ms']}ms id={http['request_id']}"
            if http.get("user_id"):
                line += f" user={http['user_id']}"
        return line


def configure_logging(settings: Settings) -> None:
    """Install one stderr handler on the root logger (once), in the configured format."""
    root = logging.getLogger()
    root.setLevel(settings.log_level.upper())
    # aiosqlite's DEBUG lines carry every statement's parameters (password and token hashes
    # among them): LOG_LEVEL=debug must not turn them on. SQLAlchemy keeps its own at WARNING.
    logging.getLogger("aiosqlite").setLevel(max(logging.INFO, root.level))
    if settings.otel_exporter_otlp_endpoint:
        # Each record takes the trace id of the request it was logged in, when it is made:
        # handlers may format it later (and elsewhere).
        logging.setLogRecordFactory(_record_with_trace_id)
    formatter = JsonFormatter() if settings.log_format == "json" else TextFormatter()
    for handler in root.handlers:
        if handler.get_name() == _HANDLER_NAME:
            handler.setFormatter(formatter)
            return
    handler = logging.StreamHandler(sys.stderr)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(formatter)
    root.addHandler(handler)
    # Our access log replaces uvicorn's; its error logger propagates to ours.
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").disabled = True
    # Neither format shows where a line was logged from, or which thread or process: skip
    # collecting them for every record (the logging HOWTO's "Optimization").
    logging._srcfile = None
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
