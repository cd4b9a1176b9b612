"""An event bus with named channels and a short, resumable history per channel.

`publish(channel, data)` stores the event in the channel's history and hands it to
every subscriber. `subscribe(channel, after=...)` returns a `Subscription`, an async
iterator that first yields the retained events published after the event id `after`.
It then yields the live ones, each exactly once and in order.

Event ids increase within a channel. They look like Redis stream ids (`<ms>-<n>`),
so a client can send back the last one it saw (SSE's `Last-Event-ID`) and resume.
When that id is no longer retained (trimmed, expired, or from before a restart), the
subscription says so (`resumed` is False) and the caller sends a fresh snapshot.

Two implementations:
- `MemoryEventBus`: one process (the embedded mode); history in memory.
- `RedisEventBus`: many API processes. Each event goes into a capped Redis stream
  (the history) and out on a pub/sub channel in one script, so every process sees
  events in stream order. Each process keeps one pattern subscription and routes
  messages to its local subscribers.

The database stays the source of truth: events only tell watchers what changed.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import structlog

from mage_studio.config import Settings

log = structlog.get_logger(__name__)

DEFAULT_HISTORY = 200
DEFAULT_TTL_SECONDS = 3600
SUBSCRIBER_BUFFER = 1000
REDIS_PREFIX = "mage:events:"
RECONNECT_SECONDS = (0.5, 1.0, 2.0, 5.0)
_PRUNE_EVERY = 256


@dataclass(frozen=True, slots=True)
class Event:
    """One published event: its id, channel and JSON-serialisable data."""

    id: str
    channel: str
    data: dict[str, Any]


# Redis stream ids are two unsigned 64-bit integers.
MAX_ID_PART = 2**64 - 1


def id_key(event_id: str | None) -> tuple[int, int] | None:
    """Return the sort key of an event id (`<ms>-<n>`), or None when malformed."""
    if not event_id:
        return None
    first, _, second = event_id.partition("-")
    # isdigit() alone also accepts characters such as "²" that int() rejects.
    if not _is_id_part(first) or not _is_id_part(second):
        return None
    key = int(first), int(second)
    if max(key) > MAX_ID_PART:
        return None
    return key


def _is_id_part(text: str) -> bool:
    return text.isascii() and text.isdigit()


@dataclass(slots=True)
class History:
    """The retained events of a channel and whether they reach back to `after`."""

    events: list[Event]
    complete: bool
    head: str | None = None


class Subscription:
    """The events of one channel, as an async iterator.

    Open it with `async with`. `resumed` is True when every event after `after`
    was still retained, and those events are yielded first. `head` is the newest
    event id when the subscription opened. When the consumer falls more than the buffer
    behind, the oldest events are dropped and `lost` is set.
    """

    def __init__(self, bus: EventBus, channel: str, after: str | None) -> None:
        self.bus = bus
        self.channel = channel
        self.after = after if id_key(after) is not None else None
        self.resumed = False
        self.head: str | None = None
        self.retained: list[Event] = []
        self.lost = False
        self.last_id: str | None = None
        self._buffer: deque[Event] = deque()
        self._ready = asyncio.Event()
        self._opened = False
        self._closed = False

    async def __aenter__(self) -> Subscription:
        await self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    async def open(self) -> None:
        """Start receiving live events, then load the retained ones."""
        if self._opened:
            return
        self._opened = True
        # Registering first means no event falls between history and live delivery;
        # `_accept` drops the ones that show up in both.
        self.bus._register(self)
        try:
            history = await self.bus.history(self.channel, self.after)
        except Exception as exc:
            # A failed read (Redis unreachable) must not fail the stream: the caller
            # starts from a snapshot, and live events arrive once delivery works.
            log.warning("event_history_failed", channel=self.channel, error=repr(exc))
            history = History([], complete=False)
        self.retained = history.events
        self.head = history.head
        self.resumed = self.after is not None and history.complete
        queued = list(self._buffer)
        self._buffer.clear()
        self.last_id = self.after if self.resumed else self.head
        if self.resumed:
            for event in history.events:
                self._accept(event)
        for event in queued:
            self._accept(event)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.bus._unregister(self)
        self._ready.set()

    def deliver(self, event: Event) -> None:
        """Queue a live event (called by the bus); repeats are dropped."""
        self._accept(event)

    def _accept(self, event: Event) -> None:
        key = id_key(event.id)
        last = id_key(self.last_id)
        if key is not None and last is not None and key <= last:
            return
        self.last_id = event.id
        if len(self._buffer) >= SUBSCRIBER_BUFFER:
            self._buffer.popleft()
            self.lost = True
        self._buffer.append(event)
        self._ready.set()

    async def next(self, timeout: float | None = None) -> Event | None:
        """Return the next event, or None after `timeout` seconds or once closed."""
        await self.open()
        while not self._buffer:
            if self._closed:
                return None
            self._ready.clear()
            try:
                await asyncio.wait_for(self._ready.wait(), timeout)
            except TimeoutError:
                return None
        return self._buffer.popleft()

    def drain(self) -> list[Event]:
        """Return the events already waiting, without waiting for more."""
        events = list(self._buffer)
        self._buffer.clear()
        return events

    @property
    def closed(self) -> bool:
        return self._closed and not self._buffer

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Event:
        event = await self.next()
        if event is None:
            raise StopAsyncIteration
        return event


class EventBus(ABC):
    """Channels with history; see the module docstring."""

    def __init__(self) -> None:
        self._subscribers: dict[str, set[Subscription]] = {}

    async def start(self) -> None:  # noqa: B027 - optional for subclasses
        """Connect to the backing service, if any."""

    async def stop(self) -> None:
        """Disconnect and end every open subscription."""
        for subscriptions in list(self._subscribers.values()):
            for subscription in list(subscriptions):
                subscription.close()

    @abstractmethod
    async def publish(self, channel: str, data: Mapping[str, Any]) -> Event:
        """Record `data` on `channel` and hand it to every subscriber."""

    @abstractmethod
    async def history(self, channel: str, after: str | None = None) -> History:
        """Return the retained events of `channel` (after `after` when complete)."""

    def subscribe(self, channel: str, *, after: str | None = None) -> Subscription:
        """Return a subscription to `channel`, resuming after event id `after`."""
        return Subscription(self, channel, after)

    def subscriber_count(self, channel: str) -> int:
        return len(self._subscribers.get(channel, ()))

    def _register(self, subscription: Subscription) -> None:
        self._subscribers.setdefault(subscription.channel, set()).add(subscription)

    def _unregister(self, subscription: Subscription) -> None:
        subscriptions = self._subscribers.get(subscription.channel)
        if subscriptions is None:
            return
        subscriptions.discard(subscription)
        if not subscriptions:
            del self._subscribers[subscription.channel]

    def _dispatch(self, event: Event) -> None:
        for subscription in list(self._subscribers.get(event.channel, ())):
            subscription.deliver(event)


def _after(events: list[Event], after: str | None) -> History:
    head = events[-1].id if events else None
    if after is None:
        return History(events, complete=False, head=head)
    for index, event in enumerate(events):
        if event.id == after:
            return History(events[index + 1 :], complete=True, head=head)
    return History(events, complete=False, head=head)


@dataclass(slots=True)
class _Channel:
    events: deque[Event]
    touched: float = field(default_factory=time.monotonic)


class MemoryEventBus(EventBus):
    """History and delivery inside one process.

    Ids start from the bus's creation time in milliseconds, so ids of an earlier
    process never match and a client resuming across a restart gets a snapshot.
    Channels idle for `ttl_seconds` without subscribers are forgotten.
    """

    def __init__(
        self, history_size: int = DEFAULT_HISTORY, ttl_seconds: float = 3600.0
    ) -> None:
        super().__init__()
        self.history_size = history_size
        self.ttl_seconds = ttl_seconds
        self._epoch = int(time.time() * 1000)
        self._sequence = itertools.count(1)
        self._channels: dict[str, _Channel] = {}
        self._published = 0

    async def publish(self, channel: str, data: Mapping[str, Any]) -> Event:
        event = Event(f"{self._epoch}-{next(self._sequence)}", channel, dict(data))
        state = self._channels.get(channel)
        if state is None:
            state = _Channel(deque(maxlen=self.history_size))
            self._channels[channel] = state
        state.events.append(event)
        state.touched = time.monotonic()
        self._prune()
        self._dispatch(event)
        return event

    async def history(self, channel: str, after: str | None = None) -> History:
        state = self._channels.get(channel)
        return _after(list(state.events) if state else [], after)

    def _prune(self) -> None:
        self._published += 1
        if self._published % _PRUNE_EVERY:
            return
        cutoff = time.monotonic() - self.ttl_seconds
        for name, state in list(self._channels.items()):
            if state.touched < cutoff and name not in self._subscribers:
                del self._channels[name]


# Append to the capped stream and announce on pub/sub in one step, so every
# process receives events in the order of their ids.
_PUBLISH = """
local id = redis.call('XADD', KEYS[1], 'MAXLEN', ARGV[2], '*', 'd', ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[3])
redis.call('PUBLISH', ARGV[4], id .. ' ' .. ARGV[1])
return id
"""


class RedisEventBus(EventBus):
    """History in capped Redis streams, fan-out through Redis pub/sub."""

    def __init__(
        self,
        url: str,
        *,
        history_size: int = DEFAULT_HISTORY,
        ttl_seconds: int = DEFAULT_TTL_SECONDS,
        prefix: str = REDIS_PREFIX,
    ) -> None:
        super().__init__()
        self.url = url
        self.history_size = history_size
        self.ttl_seconds = ttl_seconds
        self.prefix = prefix
        self._redis: Any = None
        self._script: Any = None
        self._listener: asyncio.Task[None] | None = None
        self._listening = asyncio.Event()

    def _stream_key(self, channel: str) -> str:
        return f"{self.prefix}history:{channel}"

    def _pubsub_channel(self, channel: str) -> str:
        return f"{self.prefix}live:{channel}"

    async def start(self) -> None:
        import redis.asyncio as redis_asyncio

        self._redis = redis_asyncio.Redis.from_url(self.url, decode_responses=True)
        self._script = self._redis.register_script(_PUBLISH)
        self._listener = asyncio.create_task(self._listen())
        # Subscribers opened right after start must not miss events.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._listening.wait(), 5.0)

    async def stop(self) -> None:
        await super().stop()
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
            self._listener = None
        if self._redis is not None:
            await self._redis.aclose()
            self._redis = None

    async def publish(self, channel: str, data: Mapping[str, Any]) -> Event:
        payload = json.dumps(dict(data), separators=(",", ":"), default=str)
        event_id = await self._script(
            keys=[self._stream_key(channel)],
            args=[
                payload,
                self.history_size,
                self.ttl_seconds,
                self._pubsub_channel(channel),
            ],
        )
        return Event(str(event_id), channel, json.loads(payload))

    async def history(self, channel: str, after: str | None = None) -> History:
        entries = await self._redis.xrange(self._stream_key(channel))
        events = [
            Event(entry_id, channel, json.loads(fields["d"]))
            for entry_id, fields in entries
        ]
        return _after(events, after)

    async def _listen(self) -> None:
        pattern = self._pubsub_channel("*")
        attempt = 0
        while True:
            try:
                async with self._redis.pubsub() as pubsub:
                    await pubsub.psubscribe(pattern)
                    if attempt:
                        await self._catch_up()
                    attempt = 0
                    self._listening.set()
                    async for message in pubsub.listen():
                        if message.get("type") == "pmessage":
                            self._route(message["channel"], message["data"])
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                delay = RECONNECT_SECONDS[min(attempt, len(RECONNECT_SECONDS) - 1)]
                attempt += 1
                log.warning("event_bus_listener_failed", error=repr(exc), retry=delay)
                await asyncio.sleep(delay)

    def _route(self, pubsub_channel: str, message: str) -> None:
        channel = pubsub_channel.removeprefix(self._pubsub_channel(""))
        event_id, _, payload = message.partition(" ")
        try:
            data = json.loads(payload)
        except ValueError:
            log.warning("event_bus_message_invalid", channel=channel)
            return
        self._dispatch(Event(event_id, channel, data))

    async def _catch_up(self) -> None:
        """Deliver what local subscribers missed while the listener was down."""
        for channel, subscriptions in list(self._subscribers.items()):
            history = await self.history(channel)
            for subscription in list(subscriptions):
                for event in history.events:
                    subscription.deliver(event)


def create_event_bus(settings: Settings) -> EventBus:
    """Return the Redis bus when `redis_url` is set, else the in-process one."""
    if settings.redis_url:
        return RedisEventBus(
            settings.redis_url,
            history_size=settings.events_history_size,
            ttl_seconds=settings.events_history_ttl_seconds,
        )
    return MemoryEventBus(
        history_size=settings.events_history_size,
        ttl_seconds=settings.events_history_ttl_seconds,
    )
