"""The worker's claim loop: claim a job, download its media, render, report.

`Worker.run()` runs `concurrency` slots; each claims and renders one job at a
time under its own worker name. While a job runs, heartbeats go out every
`heartbeat_interval` seconds of the job spec and, when frames progressed, at
most every `progress_interval` seconds. Each heartbeat carries progress, ETA and
the Deforum values applied per frame, and its response returns live steering
and the cancel flag.

Outcomes: a finished render uploads its files. A cancel request stops the render
before its next frame and reports `cancelled` with the frames done. Media and
settings errors fail the job for good, and backend errors fail it retryably
when the backend says so. A 409 at any point drops the job without a report,
because another worker owns it. A 401 stops the whole worker.

`request_shutdown()` stops claiming. Running jobs get `grace_seconds` to finish,
after which they are stopped and released (reported as retryable failures).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

import structlog
from PIL import Image

from mage_studio.queue.schemas import (
    ClaimRequest,
    FailRequest,
    HeartbeatRequest,
    JobSpec,
)
from mage_studio.render.backends.base import Backend
from mage_studio.render.client import (
    HEARTBEAT_RETRY,
    REPORT_RETRY,
    ApiUnavailable,
    DownloadFailed,
    JobLost,
    RequestRejected,
    RetryPolicy,
    WorkerApiError,
    WorkerClient,
    WorkerUnauthorized,
)
from mage_studio.render.errors import RenderCancelled, RenderError
from mage_studio.render.job_media import download_job_media, render_spec_for
from mage_studio.render.pipelines import Progress, RenderOutputs, RenderSpec, render_job

log = structlog.get_logger(__name__)

StopReason = Literal["cancel", "lost", "shutdown", "unauthorized"]
Outcome = Literal["finished", "preview", "cancelled", "failed", "released", "lost"]
MAX_ERROR_LENGTH = 4000
FRAME_JPEG_QUALITY = 80
CLAIM_RETRY = RetryPolicy(attempts=1, base=1.0, max_delay=30.0)


@dataclass(frozen=True, slots=True)
class WorkerConfig:
    """Claim filters and call pacing of one worker process."""

    name: str
    """Worker name; with concurrency N > 1 the slots are `name.1` ... `name.N`."""
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
        """Return the claim body of `slot`; raises ValidationError for bad names."""
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
    """Receives job progress, for example to draw progress bars.

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


class JobRun:
    """One claimed job attempt: media, render thread, heartbeats and the report."""

    def __init__(self, worker: Worker, slot: str, spec: JobSpec, backend: Backend):
        self.worker = worker
        self.client = worker.client
        self.config = worker.config
        self.slot = slot
        self.spec = spec
        self.backend = backend
        self.cancel = threading.Event()
        self.reason: StopReason | None = None
        self.started = time.monotonic()
        self.log = log.bind(job_id=spec.job_id, worker=slot, attempt=spec.attempt)
        self._lock = threading.Lock()
        self._frames_done = 0
        self._frames_total = spec.params.frame_count
        self._pending_applied: dict[str, dict[str, Any]] = {}
        self._newest_frame: tuple[int, Any] | None = None
        self._version = 0
        self._steering = _steering_dict(spec)
        self.workdir: Path | None = None
        self._heartbeats: asyncio.Task[None] | None = None
        # Set once the final report starts. Heartbeats keep the lease during a
        # long upload, and a 409 then only means that the report was accepted.
        self.reporting = False
        self._heartbeats_done = False

    # --- control ----------------------------------------------------------------------

    def abort(self, reason: StopReason) -> None:
        """Stop the render before its next frame; the first reason wins.

        Once the final report started there is nothing left to stop.
        """
        if self.reporting:
            return
        if self.reason is None:
            self.reason = reason
            self.log.info("job_stopping", reason=reason)
        self.cancel.set()
        try:
            self.backend.interrupt()
        except Exception as exc:  # interrupt is best effort; the cancel flag suffices
            self.log.warning("backend_interrupt_failed", error=repr(exc))

    async def execute(self) -> Outcome:
        spec = self.spec
        self.log.info(
            "job_claimed",
            generator=spec.generator,
            render=spec.render,
            frames=spec.params.frame_count,
        )
        self.worker.observer.job_started(self.slot, spec)
        self._heartbeats = asyncio.create_task(self._heartbeat_loop())
        outcome: Outcome = "failed"
        try:
            outcome = await self._render_and_report()
            return outcome
        finally:
            await self._stop_heartbeats()
            if self.workdir is not None:
                await asyncio.to_thread(shutil.rmtree, self.workdir, True)
            self.worker.observer.job_ended(spec.job_id, outcome)

    async def _stop_heartbeats(self) -> None:
        task = self._heartbeats
        if task is None:
            return
        self._heartbeats = None
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    def _make_workdir(self) -> Path:
        parent = self.config.workdir
        if parent is not None:
            parent.mkdir(parents=True, exist_ok=True)
        prefix = f"job-{self.spec.job_id}-"
        return Path(tempfile.mkdtemp(prefix=prefix, dir=parent))

    # --- render -----------------------------------------------------------------------

    async def _render_and_report(self) -> Outcome:
        try:
            if self.cancel.is_set():
                raise RenderCancelled(0)
            self.workdir = workdir = await asyncio.to_thread(self._make_workdir)
            media = await download_job_media(
                self.client,
                self.spec,
                workdir / "media",
                max_bytes=self.config.max_download_bytes,
            )
            render_spec = render_spec_for(self.spec, media)
            if self.cancel.is_set():
                raise RenderCancelled(0)
            outputs = await self._render(render_spec, workdir / "render")
        except asyncio.CancelledError:
            self.abort("shutdown")
            raise
        except WorkerUnauthorized:
            raise
        except Exception as exc:
            self.reporting = True
            return await self._report_failure(exc)
        self.reporting = True
        return await self._report_success(outputs)

    async def _render(self, render_spec: RenderSpec, folder: Path) -> RenderOutputs:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self.worker.executor,
            lambda: render_job(
                render_spec,
                folder,
                self.backend,
                on_progress=self._on_progress,
                should_cancel=self.cancel.is_set,
                get_steering=self._current_steering,
            ),
        )

    def _on_progress(self, progress: Progress) -> None:
        """Record a rendered frame (called from the render thread)."""
        index = progress.frames_done - 1
        with self._lock:
            self._frames_done = progress.frames_done
            self._frames_total = progress.frames_total
            if progress.applied is not None:
                self._pending_applied[str(index)] = progress.applied
            self._newest_frame = (index, progress.frame)
            self._version += 1
        self.worker.observer.job_progress(
            self.spec.job_id, progress.frames_done, progress.frames_total
        )

    def _current_steering(self) -> Mapping[str, Any] | None:
        return self._steering

    # --- reports ----------------------------------------------------------------------

    async def _report_success(self, outputs: RenderOutputs) -> Outcome:
        if self.reason in ("lost", "unauthorized"):
            self.log.info("job_lost", frames=outputs.frames_rendered)
            return "lost"
        files = {
            name: path
            for name, path in {
                "video": outputs.video,
                "preview_img": outputs.preview_img,
                "preview_animation": outputs.preview_animation,
                "thumbnail": outputs.thumbnail,
                "last_frame": outputs.last_frame,
            }.items()
            if path is not None
        }
        try:
            ack = await self.client.submit_result(
                self.spec.job_id,
                self.spec.attempt,
                frames_rendered=outputs.frames_rendered,
                metadata=result_metadata(outputs),
                files=files,
            )
        except JobLost as exc:
            self.log.warning("job_lost", error=exc.message)
            return "lost"
        except RequestRejected as exc:
            self.log.error("job_result_rejected", error=exc.message)
            return await self._send_failure(
                FailRequest(
                    attempt=self.spec.attempt,
                    error=_clip(f"The API rejected the render result: {exc.message}"),
                    retryable=False,
                    frames_rendered=outputs.frames_rendered,
                ),
                "failed",
            )
        except ApiUnavailable as exc:
            self.log.error("job_report_failed", error=exc.message)
            return "failed"
        self.log.info(
            "job_finished",
            status=ack.status,
            frames=outputs.frames_rendered,
            seconds=round(time.monotonic() - self.started, 2),
        )
        return (
            "preview"
            if ack.status == "preview"
            else ("cancelled" if ack.status == "cancelled" else "finished")
        )

    async def _report_failure(self, exc: Exception) -> Outcome:
        with self._lock:
            frames_done = self._frames_done
        decision = classify_failure(exc, self.reason, frames_done)
        if decision is None:
            self.log.info("job_lost", frames=frames_done)
            return "lost"
        body, outcome = decision
        body = body.model_copy(update={"attempt": self.spec.attempt})
        if outcome == "failed":
            self.log.warning(
                "job_failed",
                error=body.error,
                retryable=body.retryable,
                exc_type=type(exc).__name__,
                exc_info=not isinstance(exc, RenderError | WorkerApiError),
            )
        return await self._send_failure(body, outcome)

    async def _send_failure(self, body: FailRequest, outcome: Outcome) -> Outcome:
        # A released job on shutdown must not hold the worker for minutes.
        policy = HEARTBEAT_RETRY if outcome == "released" else REPORT_RETRY
        try:
            ack = await self.client.fail(self.spec.job_id, body, policy=policy)
        except JobLost as exc:
            self.log.warning("job_lost", error=exc.message)
            return "lost"
        except (ApiUnavailable, RequestRejected) as exc:
            self.log.error("job_report_failed", error=exc.message, outcome=outcome)
            return outcome
        event = {"cancelled": "job_cancelled", "released": "job_released"}.get(
            outcome, "job_failure_reported"
        )
        self.log.info(event, status=ack.status, frames=body.frames_rendered)
        return outcome

    # --- heartbeats -------------------------------------------------------------------

    async def _heartbeat_loop(self) -> None:
        interval = max(1.0, self.spec.heartbeat_interval)
        tick = max(0.05, min(self.config.progress_interval, interval))
        last_sent = time.monotonic()
        last_version = 0
        last_frame_sent = 0.0
        last_frame_index = -1
        while self._heartbeats_wanted():
            await asyncio.sleep(tick)
            now = time.monotonic()
            version = self._version
            progressed = version != last_version
            if now - last_sent >= interval or (
                progressed and now - last_sent >= self.config.progress_interval
            ):
                last_sent = now
                last_version = version
                await self._send_heartbeat()
            frame = self._newest_frame
            if (
                frame is not None
                and frame[0] != last_frame_index
                and self.config.frame_interval > 0
                and now - last_frame_sent >= self.config.frame_interval
            ):
                last_frame_sent = now
                last_frame_index = frame[0]
                await self._send_frame(*frame)

    def _heartbeats_wanted(self) -> bool:
        return not self._heartbeats_done and self.reason not in ("lost", "unauthorized")

    def _heartbeat_body(self) -> HeartbeatRequest:
        with self._lock:
            done, total = self._frames_done, self._frames_total
            applied = dict(self._pending_applied)
        elapsed = time.monotonic() - self.started
        eta = elapsed / done * max(total - done, 0) if done > 0 else None
        progress = min(100.0, 100.0 * done / total) if total > 0 else 0.0
        return HeartbeatRequest(
            attempt=self.spec.attempt,
            progress=round(progress, 2),
            frames_done=done,
            frames_total=total,
            eta_seconds=None if eta is None else round(eta, 1),
            applied=applied,
        )

    async def _send_heartbeat(self) -> None:
        body = self._heartbeat_body()
        try:
            response = await self.client.heartbeat(self.spec.job_id, body)
        except JobLost as exc:
            if self.reporting:
                self._heartbeats_done = True
                return
            self.log.warning("job_lost", error=exc.message)
            self.abort("lost")
            return
        except WorkerUnauthorized as exc:
            self.worker.stop_on_error(exc)
            return
        except (ApiUnavailable, RequestRejected) as exc:
            self.log.warning("heartbeat_failed", error=exc.message)
            return
        with self._lock:
            for key in body.applied:
                self._pending_applied.pop(key, None)
        self._steering = (
            None if response.steering is None else response.steering.model_dump()
        )
        cancel = response.cancel_requested and not self.reporting
        if cancel and self.reason is None:
            self.log.info("job_cancel_requested", frames=body.frames_done)
            self.abort("cancel")

    async def _send_frame(self, index: int, image: Any) -> None:
        try:
            data = await asyncio.to_thread(_jpeg, image)
            await self.client.send_frame(
                self.spec.job_id, self.spec.attempt, index, data
            )
        except JobLost as exc:
            self.log.warning("job_lost", error=exc.message)
            self.abort("lost")
        except WorkerUnauthorized as exc:
            self.worker.stop_on_error(exc)
        except (ApiUnavailable, RequestRejected, OSError, ValueError) as exc:
            # Live frames are optional: the next one replaces a lost one.
            self.log.info("frame_upload_failed", index=index, error=str(exc))


def classify_failure(
    exc: BaseException, reason: StopReason | None, frames_done: int
) -> tuple[FailRequest, Outcome] | None:
    """Return the failure report for an exception of a job attempt.

    None means "report nothing": the job is lost to another worker or the token
    was rejected. The returned request's `attempt` is a placeholder.
    """
    if reason in ("lost", "unauthorized"):
        return None
    frames = exc.frames_rendered if isinstance(exc, RenderCancelled) else frames_done
    if reason == "cancel":
        return (
            FailRequest(attempt=1, cancelled=True, frames_rendered=frames),
            "cancelled",
        )
    if reason == "shutdown":
        message = "The worker shut down before the render finished."
        return (
            FailRequest(
                attempt=1, error=message, retryable=True, frames_rendered=frames
            ),
            "released",
        )
    if isinstance(exc, DownloadFailed):
        retryable, message = exc.retryable, exc.message
    elif isinstance(exc, WorkerApiError):
        retryable, message = True, exc.message
    elif isinstance(exc, RenderError):
        retryable, message = exc.retryable, exc.message
    else:
        retryable = True
        message = f"The worker failed unexpectedly: {type(exc).__name__}: {exc}"
    return (
        FailRequest(
            attempt=1,
            error=_clip(message),
            retryable=retryable,
            frames_rendered=frames,
        ),
        "failed",
    )


def result_metadata(outputs: RenderOutputs) -> dict[str, Any]:
    """Return the result's `metadata`, with `timings.seconds_per_frame` for ETAs."""
    metadata = outputs.metadata()
    timings = dict(outputs.timings)
    total = timings.get("total_seconds")
    if total is not None and outputs.frames_rendered > 0:
        timings["seconds_per_frame"] = round(total / outputs.frames_rendered, 4)
    metadata["timings"] = timings
    return metadata


def _steering_dict(spec: JobSpec) -> dict[str, Any] | None:
    return None if spec.steering is None else spec.steering.model_dump()


def _jpeg(image: Any) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, "JPEG", quality=FRAME_JPEG_QUALITY)
    return buffer.getvalue()


def _clip(message: str) -> str:
    return (
        message
        if len(message) <= MAX_ERROR_LENGTH
        else message[: MAX_ERROR_LENGTH - 1] + "…"
    )
