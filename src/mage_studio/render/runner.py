"""The worker's claim loop: claim a job, download its media, render, report.

`Worker.run()` runs `concurrency` slots; each claims and renders one job at a
time under its own worker name. While a job runs, heartbeats go out every
`heartbeat_interval` seconds of the job spec and, when frames progressed, at
most every `progress_interval` seconds. Each heartbeat carries progress, ETA and
the Deforum values applied per frame, and its response returns live steering
and the cancel flag.

Outcomes: a finished render uploads its files. A cancel request stops the render
before its next frame and reports `cancelled` with the frames done. Media and
settings errors fail the job for good, and backend errors fail it retryably when
the backend marks them retryable. A 409 at any point drops the job without a
report, because another worker owns it. A 401 stops the whole worker.

`request_shutdown()` stops claiming. Running jobs get `grace_seconds` to finish,
after which they are stopped and released (reported as retryable failures).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import structlog

from mage_studio.queue.schemas import JobSpec
from mage_studio.render.backends.base import Backend
from mage_studio.render.client import (
    ApiUnavailable,
    RequestRejected,
    WorkerApiError,
    WorkerClient,
    WorkerUnauthorized,
)
from mage_studio.render.job_run import JobRun, StopReason
from mage_studio.render.slots import JobObserver, NullObserver, WorkerConfig

log = structlog.get_logger(__name__)

BackendFactory = Callable[[], Backend]


class Worker:
    """Runs the claim loop of every slot until shutdown (see the module docs)."""

    def __init__(
        self,
        client: WorkerClient,
        backend_factory: BackendFactory,
        config: WorkerConfig,
        observer: JobObserver | None = None,
    ) -> None:
        self.client = client
        self.backend_factory = backend_factory
        self.config = config
        self.observer: JobObserver = observer or NullObserver()
        self.stopping = asyncio.Event()
        self.fatal: WorkerApiError | None = None
        self.active: dict[int, JobRun] = {}
        self.executor: ThreadPoolExecutor | None = None
        self._grace_timer: asyncio.TimerHandle | None = None

    async def run(self) -> None:
        """Serve jobs until `request_shutdown`; raise the error that stopped it.

        Raises WorkerUnauthorized when the API rejects the token, and
        RequestRejected when it rejects the claim itself (for example unknown
        queue names).
        """
        slots = self.config.slot_names()
        log.info(
            "worker_started",
            worker=self.config.name,
            slots=len(slots),
            queues=list(self.config.queues),
            api=self.client.api_url,
        )
        self.executor = ThreadPoolExecutor(
            max_workers=len(slots), thread_name_prefix="render"
        )
        try:
            await asyncio.gather(*(self._serve(slot) for slot in slots))
        finally:
            if self._grace_timer is not None:
                self._grace_timer.cancel()
            # Each job awaits its render thread, so a thread is left only when the
            # worker task itself was cancelled. Waiting for it would block the loop.
            self.executor.shutdown(wait=False, cancel_futures=True)
            log.info("worker_stopped", worker=self.config.name)
        if self.fatal is not None:
            raise self.fatal

    def request_shutdown(self, grace: float | None = None) -> None:
        """Stop claiming and release running jobs that outlast the grace period.

        A second request releases them at once. Call it from the event loop.
        """
        if self.stopping.is_set():
            self.abort_all("shutdown")
            return
        grace = self.config.grace_seconds if grace is None else grace
        log.info(
            "worker_shutdown_requested",
            worker=self.config.name,
            running=sorted(self.active),
            grace_seconds=grace,
        )
        self.stopping.set()
        if grace <= 0:
            self.abort_all("shutdown")
        else:
            loop = asyncio.get_running_loop()
            self._grace_timer = loop.call_later(grace, self.abort_all, "shutdown")

    def abort_all(self, reason: StopReason) -> None:
        for run in list(self.active.values()):
            run.abort(reason)

    def stop_on_error(self, error: WorkerApiError) -> None:
        """Stop the worker because of an error no retry can fix."""
        if self.fatal is None:
            self.fatal = error
            log.error(
                "worker_stopping_on_error", worker=self.config.name, error=str(error)
            )
        self.stopping.set()
        self.abort_all("unauthorized")

    async def _serve(self, slot: str) -> None:
        backend = self.backend_factory()
        failures = 0
        try:
            while not self.stopping.is_set():
                try:
                    spec = await self._claim(slot)
                except ApiUnavailable as exc:
                    failures += 1
                    delay = self.config.claim_retry.delay(failures)
                    log.warning(
                        "worker_claim_failed",
                        worker=slot,
                        error=exc.message,
                        failures=failures,
                        retry_in=round(delay, 1),
                    )
                    await self._pause(delay)
                    continue
                except (WorkerUnauthorized, RequestRejected) as exc:
                    self.stop_on_error(exc)
                    break
                failures = 0
                if spec is not None:
                    await self._run_job(slot, spec, backend)
        finally:
            backend.close()

    async def _claim(self, slot: str) -> JobSpec | None:
        """Claim with a long-poll that a shutdown request interrupts.

        NOTE: a claim interrupted at the moment the API hands out a job leaves
        that job leased to this slot until the lease expires.
        """
        request = self.config.claim_request(slot)
        claim = asyncio.create_task(self.client.claim(request))
        stop = asyncio.create_task(self.stopping.wait())
        await asyncio.wait({claim, stop}, return_when=asyncio.FIRST_COMPLETED)
        stop.cancel()
        if claim.done():
            return claim.result()
        claim.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await claim
        return None

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stopping.wait(), seconds)

    async def _run_job(self, slot: str, spec: JobSpec, backend: Backend) -> None:
        run = JobRun(self, slot, spec, backend)
        self.active[spec.job_id] = run
        try:
            if self.stopping.is_set():
                run.abort("shutdown")
            await run.execute()
        except WorkerUnauthorized as exc:
            self.stop_on_error(exc)
        except Exception:
            # A bug in one job must not stop the worker; the lease expires and
            # the job is retried.
            log.exception("job_crashed", job_id=spec.job_id, worker=slot)
        finally:
            self.active.pop(spec.job_id, None)
