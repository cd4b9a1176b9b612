"""Terminal output of `mage-studio worker`: Rich progress bars and structlog lines.

Both go to stderr. While progress bars are drawn, Rich redirects stderr, so log
lines appear above the bars instead of tearing them.
"""

from __future__ import annotations

import logging
import sys
import threading
from typing import Any

import structlog
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from mage_studio.queue.schemas import JobSpec


class _StderrLogger:
    """A structlog logger that looks up `sys.stderr` on every line.

    Rich swaps `sys.stderr` while it draws, so the stream must not be bound once.
    """

    def msg(self, message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    debug = info = warning = warn = error = critical = exception = fatal = msg


def configure_worker_logging(*, json_logs: bool, level: str = "INFO") -> None:
    """Configure structlog for a standalone worker process (lines on stderr)."""
    renderer: Any
    if json_logs:
        renderer = structlog.processors.JSONRenderer()
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    processors: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    if json_logs:
        processors.append(structlog.processors.format_exc_info)
    structlog.configure(
        processors=[*processors, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelName(level.upper())
        ),
        logger_factory=lambda *_: _StderrLogger(),
        cache_logger_on_first_use=False,
    )


class ProgressDisplay:
    """One progress line per running job (a JobObserver)."""

    def __init__(self, console: Console | None = None) -> None:
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            console=console or Console(stderr=True),
            transient=False,
        )
        self._tasks: dict[int, tuple[TaskID, str]] = {}
        self._lock = threading.Lock()

    def __enter__(self) -> ProgressDisplay:
        self.progress.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.progress.stop()

    def job_started(self, worker: str, spec: JobSpec) -> None:
        description = f"{worker} job {spec.job_id} {spec.generator} {spec.render}"
        total = spec.params.frame_count or None
        task = self.progress.add_task(description, total=total)
        with self._lock:
            self._tasks[spec.job_id] = (task, description)

    def job_progress(self, job_id: int, frames_done: int, frames_total: int) -> None:
        with self._lock:
            entry = self._tasks.get(job_id)
        if entry is not None:
            self.progress.update(entry[0], completed=frames_done, total=frames_total)

    def job_ended(self, job_id: int, outcome: str) -> None:
        with self._lock:
            entry = self._tasks.pop(job_id, None)
        if entry is None:
            return
        task, description = entry
        self.progress.remove_task(task)
        self.progress.console.print(f"{description}: {outcome}")
