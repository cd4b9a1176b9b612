"""The worker's shared parts: claim filters and pacing, the progress observer, and
the worker interface that a running job uses."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from mage_studio.queue.schemas import ClaimRequest, JobSpec
from mage_studio.render.client import RetryPolicy, WorkerApiError, WorkerClient

CLAIM_RETRY = RetryPolicy(attempts=1, base=1.0, max_delay=30.0)


@dataclass(frozen=True, slots=True)
class WorkerConfig:
    """Claim filters and call pacing of one worker process."""

    name: str
    """Worker name. With concurrency N > 1 the slots are `name.1` ... `name.N`."""
    queues: tuple[str, ...] = ()
    """Queue names served; empty serves every queue."""
    generators: tuple[str, ...] = ()
    models: tuple[str, ...] = ()
    concurrency: int = 1
    claim_wait: float = 20.0
    """Long-poll seconds of each claim (0-30)."""
    grace_seconds: float = 30.0
    """After a shutdown request, how long running jobs may take to finish."""
    progress_interval: float = 0.5
    """Minimum seconds between heartbeats sent for progress (between the regular
    heartbeat_interval ones)."""
    frame_interval: float = 2.0
    """Minimum seconds between live preview frame uploads; 0 sends none."""
    max_download_bytes: int = 2 * 1024**3
    workdir: Path | None = None
    """Folder for per-job temporary folders; None uses the system's temp folder."""
    claim_retry: RetryPolicy = CLAIM_RETRY
    """Backoff between claims while the API is unreachable (retried forever)."""

    def claim_request(self, slot: str) -> ClaimRequest:
        """Return the claim body of `slot`. Raises ValidationError for invalid names."""
        return ClaimRequest.model_validate(
            {
                "worker_name": slot,
                "queues": list(self.queues),
                "generators": list(self.generators),
                "models": list(self.models),
                "wait": self.claim_wait,
            }
        )

    def slot_names(self) -> list[str]:
        if self.concurrency <= 1:
            return [self.name]
        return [f"{self.name}.{number}" for number in range(1, self.concurrency + 1)]


class JobObserver(Protocol):
    """An observer of job progress, for example for progress bars.

    `job_progress` is called from the render thread, the others from the event
    loop, so implementations must be thread-safe.
    """

    def job_started(self, worker: str, spec: JobSpec) -> None: ...

    def job_progress(
        self, job_id: int, frames_done: int, frames_total: int
    ) -> None: ...

    def job_ended(self, job_id: int, outcome: str) -> None: ...


class NullObserver:
    def job_started(self, worker: str, spec: JobSpec) -> None:
        pass

    def job_progress(self, job_id: int, frames_done: int, frames_total: int) -> None:
        pass

    def job_ended(self, job_id: int, outcome: str) -> None:
        pass


class JobHost(Protocol):
    """The part of the worker that a running job uses."""

    client: WorkerClient
    config: WorkerConfig
    observer: JobObserver
    executor: ThreadPoolExecutor | None

    def stop_on_error(self, error: WorkerApiError) -> None: ...
