"""The directory of prometheus_client's multiprocess mode (app.core.metrics), made by
`python -m app run|serve` before any worker starts. This module must not import
prometheus_client: the variable has to be set before that import, in every process."""

import os
import shutil
import tempfile
from pathlib import Path

MULTIPROCESS_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"


def multiprocess_directory() -> Path | None:
    """The directory the workers share, when this process runs in multiprocess mode."""
    named = os.environ.get(MULTIPROCESS_VARIABLE)
    return Path(named) if named else None


def make_multiprocess_directory() -> Path:
    """A fresh, empty directory for this start's workers (in TMPDIR), named in the environment
    that they inherit: values from an earlier start never add to this one's. Whatever the
    variable said before is replaced. The caller removes it when the server stops."""
    directory = Path(tempfile.mkdtemp(prefix="todo-api-metrics-"))
    os.environ[MULTIPROCESS_VARIABLE] = str(directory)
    return directory


def remove_multiprocess_directory(directory: Path) -> None:
    shutil.rmtree(directory, ignore_errors=True)
