"""Server-sent event streams: one job, and a user's processing overview.

A job stream starts with a `snapshot` of the job (or, when the client resumes with
`Last-Event-ID` and the bus still retains what it missed, with those events). It then
follows the job's channel and checks the database every `sse_poll_seconds` for
changes nobody announced (queue positions counting down, changes made by another
process). Progress, queue, frame and steering updates are coalesced and sent at
most once per `sse_throttle_seconds` each; status changes go out at once and are
never coalesced away. A finished, failed or cancelled job ends the stream with a
`final` event whose id is `final`.
"""

from __future__ import annotations

import json
import math
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from fastapi import Request
from pydantic import BaseModel, ValidationError
from sse_starlette import ServerSentEvent

from mage_studio.config import Settings
from mage_studio.core.events import Event, EventBus, Subscription, id_key
from mage_studio.realtime.channels import job_channel, user_channel
from mage_studio.realtime.schemas import FrameRead, JobEventState
from mage_studio.realtime.state import load_job_state, load_processing_status

log = structlog.get_logger(__name__)

FINAL_ID = "final"
RETRY_MS = 3000
Clock = Callable[[], float]


def server_event(
    name: str,
    data: BaseModel | Mapping[str, Any],
    *,
    event_id: str | None = None,
    retry: int | None = None,
) -> ServerSentEvent:
    payload = data.model_dump(mode="json") if isinstance(data, BaseModel) else data
    text = json.dumps(payload, separators=(",", ":"), default=str)
    return ServerSentEvent(text, event=name, id=event_id, retry=retry)


@dataclass(slots=True)
class _Pending:
    data: dict[str, Any]
    event_id: str | None


class Coalescer:
    """Holds the latest update of each kind until the next flush.

    An update of a kind already waiting is merged into it, so a burst of progress
    reports becomes one event with the newest values.
    """

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.items: dict[str, _Pending] = {}
        self.last_flush = -math.inf

    def add(
        self, kind: str, data: Mapping[str, Any], event_id: str | None, *, merge: bool
    ) -> None:
        current = self.items.get(kind)
        if current is not None and merge:
            data = {**current.data, **data}
        if event_id is None and current is not None:
            event_id = current.event_id
        self.items[kind] = _Pending(dict(data), event_id)

    def drop(self, *kinds: str) -> None:
        for kind in kinds:
            self.items.pop(kind, None)

    def due_in(self, now: float) -> float | None:
        """Seconds until a flush is allowed, or None when nothing waits."""
        if not self.items:
            return None
        return max(0.0, self.last_flush + self.interval - now)

    def take(self, now: float) -> list[tuple[str, dict[str, Any], str | None]]:
        """Return the waiting updates, oldest event first, and start a new window."""
        items = sorted(
            self.items.items(),
            key=lambda item: id_key(item[1].event_id) or (0, 0),
        )
        self.items.clear()
        self.last_flush = now
        return [(kind, pending.data, pending.event_id) for kind, pending in items]


def wants_stream(request: Request) -> bool:
    """True when the client asked for `text/event-stream` (EventSource does)."""
    return "text/event-stream" in request.headers.get("accept", "")


def _progress_fields(data: Mapping[str, Any]) -> dict[str, Any]:
    fields = {
        key: data[key]
        for key in ("progress", "frames_done", "estimated_time_left")
        if key in data
    }
    if data.get("applied"):
        fields["applied"] = data["applied"]
    return fields


def _frame(data: Mapping[str, Any]) -> FrameRead | None:
    try:
        return FrameRead.model_validate(data)
    except ValidationError:
        return None


def newest_frame(events: list[Event]) -> FrameRead | None:
    for event in reversed(events):
        if event.data.get("type") == "frame":
            return _frame(event.data)
    return None


async def retained_frame(request: Request, job_id: int) -> FrameRead | None:
    """Return the newest preview frame the event bus still retains for a job."""
    bus: EventBus = request.app.state.events
    try:
        history = await bus.history(job_channel(job_id))
    except Exception as exc:
        # Like a stream, the state is still served when Redis is unreachable.
        log.warning("event_history_failed", job_id=job_id, error=repr(exc))
        return None
    return newest_frame(history.events)


class _Stream:
    """Shared parts of both streams: the bus, timing settings, the token's expiry."""

    def __init__(
        self, request: Request, expires_at: datetime | None, clock: Clock
    ) -> None:
        self.request = request
        settings: Settings = request.app.state.settings
        self.bus: EventBus = request.app.state.events
        self.throttle = settings.sse_throttle_seconds
        self.poll = settings.sse_poll_seconds
        self.clock = clock
        # The stream ends when the access token does; the client reconnects with
        # a fresh one.
        self.deadline = math.inf
        if expires_at is not None:
            self.deadline = clock() + max(
                0.0,
                expires_at.timestamp() - datetime.now(expires_at.tzinfo).timestamp(),
            )

    def timeout(self, *moments: float | None) -> float:
        now = self.clock()
        soonest = min([self.deadline, *(m for m in moments if m is not None)])
        return max(0.0, soonest - now)


class JobStream(_Stream):
    """The events of one job; iterate `events()`."""

    def __init__(
        self,
        request: Request,
        job_id: int,
        *,
        last_event_id: str | None,
        expires_at: datetime | None,
        clock: Clock,
    ) -> None:
        super().__init__(request, expires_at, clock)
        self.job_id = job_id
        self.last_event_id = None if last_event_id == FINAL_ID else last_event_id
        self.coalescer = Coalescer(self.throttle)
        self.shown: JobEventState | None = None
        self.frame: FrameRead | None = None
        self.done = False
        self.subscription: Subscription | None = None

    async def events(self) -> AsyncIterator[ServerSentEvent]:
        channel = job_channel(self.job_id)
        async with self.bus.subscribe(channel, after=self.last_event_id) as sub:
            self.subscription = sub
            if sub.resumed:
                # Replay what the client missed, then compare with the database.
                for missed in sub.drain():
                    for event in await self._on_event(missed):
                        yield event
                for event in await self._reload(sub.last_id):
                    yield event
            else:
                self.frame = newest_frame(sub.retained)
                for event in await self._reload(sub.head, first=True):
                    yield event
            next_poll = self.clock() + self.poll
            while not self.done:
                async for event in self._step(sub, next_poll):
                    yield event
                if self.clock() >= next_poll:
                    for event in await self._reload(sub.last_id):
                        yield event
                    next_poll = self.clock() + self.poll
                if sub.closed or self.clock() >= self.deadline:
                    return

    async def _step(
        self, sub: Subscription, next_poll: float
    ) -> AsyncIterator[ServerSentEvent]:
        """Wait for one bus event (or a due flush or poll) and handle it."""
        flush_at = self.coalescer.due_in(self.clock())
        wait = self.timeout(
            next_poll, None if flush_at is None else self.clock() + flush_at
        )
        event = await sub.next(wait)
        if event is not None:
            for out in await self._on_event(event):
                yield out
        if sub.lost:
            sub.lost = False
            for out in await self._reload(sub.last_id):
                yield out
        if not self.done and self.coalescer.due_in(self.clock()) == 0:
            for out in self._flush():
                yield out

    async def _on_event(self, event: Event) -> list[ServerSentEvent]:
        data = event.data
        kind = data.get("type")
        if kind == "status":
            return await self._reload(event.id)
        if kind == "progress":
            fields = _progress_fields(data)
            self.coalescer.add("progress", fields, event.id, merge=True)
        elif kind == "frame":
            frame = _frame(data)
            if frame is not None:
                self.frame = frame
                self.coalescer.add("frame", frame.model_dump(), event.id, merge=False)
        elif kind == "steering":
            steering = {"steering": data.get("steering")}
            self.coalescer.add("steering", steering, event.id, merge=False)
        return []

    def _flush(self) -> list[ServerSentEvent]:
        out = []
        for kind, data, event_id in self.coalescer.take(self.clock()):
            self._remember(kind, data)
            out.append(server_event(kind, data, event_id=event_id))
        return out

    def _remember(self, kind: str, data: Mapping[str, Any]) -> None:
        if self.shown is None:
            return
        if kind in ("progress", "queue"):
            known = {k: v for k, v in data.items() if k in JobEventState.model_fields}
            self.shown = self.shown.model_copy(update=known)

    async def _reload(
        self, event_id: str | None, *, first: bool = False
    ) -> list[ServerSentEvent]:
        """Read the job; send a full state when its status changed, else updates."""
        # Routine checks skip the per-frame record; a full state reads it.
        state = await load_job_state(
            self.request, self.job_id, self.frame, with_applied=first
        )
        shown = self.shown
        if (
            state is not None
            and not first
            and (shown is None or _changed(shown, state))
        ):
            state = await load_job_state(self.request, self.job_id, self.frame)
        if state is None:
            self.done = True
            return [server_event("gone", {"id": self.job_id}, event_id=FINAL_ID)]
        if first or shown is None or _changed(shown, state):
            return self._send_state(state, event_id, first=first)
        if _progress_of(shown) != _progress_of(state):
            self.coalescer.add("progress", _progress_of(state), None, merge=True)
        if shown.queue != state.queue:
            queue = {
                "queue": _dump(state.queue),
                "estimated_time_left": state.estimated_time_left,
            }
            self.coalescer.add("queue", queue, None, merge=False)
        return []

    def _send_state(
        self, state: JobEventState, event_id: str | None, *, first: bool
    ) -> list[ServerSentEvent]:
        # The full state supersedes waiting progress and queue updates.
        self.coalescer.drop("progress", "queue")
        if state.status != "processing":
            self.coalescer.drop("frame")
        out = self._flush() if self.coalescer.items else []
        self.shown = state
        if state.final:
            self.done = True
            name, event_id = "final", FINAL_ID
        else:
            name = "snapshot" if first else "status"
        retry = RETRY_MS if first else None
        out.append(server_event(name, state, event_id=event_id, retry=retry))
        return out


def _changed(shown: JobEventState, state: JobEventState) -> bool:
    return (
        shown.status != state.status
        or shown.revision != state.revision
        or shown.cancel_requested != state.cancel_requested
    )


def _progress_of(state: JobEventState) -> dict[str, Any]:
    return {
        "progress": state.progress,
        "frames_done": state.frames_done,
        "estimated_time_left": state.estimated_time_left,
    }


def _dump(value: Any) -> Any:
    return value.model_dump(mode="json") if isinstance(value, BaseModel) else value


class ProcessingStream(_Stream):
    """The caller's processing overview, sent whenever it changes."""

    def __init__(
        self,
        request: Request,
        user_id: int,
        *,
        expires_at: datetime | None,
        clock: Clock,
    ) -> None:
        super().__init__(request, expires_at, clock)
        self.user_id = user_id

    async def events(self) -> AsyncIterator[ServerSentEvent]:
        async with self.bus.subscribe(user_channel(self.user_id)) as sub:
            shown = await load_processing_status(self.request, self.user_id)
            yield server_event("processing", shown, retry=RETRY_MS)
            sent_at = next_poll = self.clock()
            next_poll += self.poll
            dirty = False
            while True:
                wake = sent_at + self.throttle if dirty else None
                event = await sub.next(self.timeout(next_poll, wake))
                dirty = dirty or event is not None
                now = self.clock()
                if sub.closed or now >= self.deadline:
                    return
                if now < next_poll and not (dirty and now >= sent_at + self.throttle):
                    continue
                current = await load_processing_status(self.request, self.user_id)
                next_poll = self.clock() + self.poll
                dirty = False
                if current != shown:
                    shown, sent_at = current, self.clock()
                    yield server_event("processing", current)
