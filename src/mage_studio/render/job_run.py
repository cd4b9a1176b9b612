"""One claimed job attempt: media downloads, the render thread, heartbeats, reports.

See `mage_studio.render.runner` for the outcomes and the shutdown rules.
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
from functools import partial
from pathlib import Path
from typing import Any, Literal, TypeVar

import structlog
from PIL import Image
from pydantic import TypeAdapter, ValidationError

from mage_studio.queue.schemas import (
    AppliedValues,
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
    WorkerApiError,
    WorkerUnauthorized,
)
from mage_studio.render.errors import RenderCancelled, RenderError
from mage_studio.render.job_media import download_job_media, render_spec_for
from mage_studio.render.pipelines import Progress, RenderOutputs, RenderSpec, render_job
from mage_studio.render.slots import JobHost
from mage_studio.render.studio import (
    download_studio_media,
    run_studio,
    studio_task_of,
    try_renditions,
)

log = structlog.get_logger(__name__)
T = TypeVar("T")

StopReason = Literal["cancel", "lost", "shutdown", "unauthorized"]
Outcome = Literal["finished", "preview", "cancelled", "failed", "released", "lost"]
MAX_ERROR_LENGTH = 4000
FRAME_JPEG_QUALITY = 80


class JobRun:
    """One claimed job attempt: media, render thread, heartbeats and the report."""

    def __init__(self, worker: JobHost, slot: str, spec: JobSpec, backend: Backend):
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
        self._renditions: dict[str, Path] = {}

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
            if self.spec.generator == "studio":
                outputs = await self._run_studio(workdir)
            else:
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
            if self.spec.render == "full" and outputs.video is not None:
                self._renditions = await self._in_thread(
                    partial(try_renditions, outputs.video, workdir / "renditions")
                )
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

    async def _run_studio(self, workdir: Path) -> RenderOutputs:
        """Download a studio job's inputs and run it (exports, compositions, ...)."""
        task = studio_task_of(self.spec.studio)

        async def download(url: str, destination: Path) -> Path:
            return await self.client.download(
                url, destination, max_bytes=self.config.max_download_bytes
            )

        media = await download_studio_media(task, workdir / "media", download)
        if self.cancel.is_set():
            raise RenderCancelled(0)
        return await self._in_thread(
            partial(
                run_studio,
                str(self.spec.job_id),
                task.operation,
                task.options,
                media,
                workdir / "render",
                on_progress=self._on_progress,
                should_cancel=self.cancel.is_set,
            )
        )

    async def _in_thread(self, function: Callable[[], T]) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.worker.executor, function)

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
        for name, path in self._renditions.items():
            files[f"rendition_{name}"] = path
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
        applied = self._storable_applied(applied)
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

    def _storable_applied(
        self, applied: dict[str, dict[str, Any]]
    ) -> dict[str, dict[str, Any]]:
        """Drop the frames whose values the API rejects, such as NaN.

        Otherwise building the heartbeat would raise on every tick and the lease
        would run out while the render goes on.
        """
        storable = {}
        for frame, values in applied.items():
            try:
                _APPLIED_VALUES.validate_python({frame: values})
            except ValidationError as exc:
                self.log.warning("applied_values_invalid", frame=frame, error=str(exc))
                with self._lock:
                    self._pending_applied.pop(frame, None)
                continue
            storable[frame] = values
        return storable

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


_APPLIED_VALUES: TypeAdapter[AppliedValues] = TypeAdapter(AppliedValues)


def _clip(message: str) -> str:
    # The API rejects NUL characters in `error`, and exception texts may hold them.
    message = message.replace("\x00", "")
    return (
        message
        if len(message) <= MAX_ERROR_LENGTH
        else message[: MAX_ERROR_LENGTH - 1] + "…"
    )
