"""The event bus: ordered delivery, resumable history, Redis fan-out."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest

from mage_studio.core.events import (
    Event,
    EventBus,
    History,
    MemoryEventBus,
    RedisEventBus,
    id_key,
)

REDIS_URL = os.environ.get("MAGE_TEST_EVENTS_REDIS_URL", "redis://127.0.0.1:6379/9")


async def _redis_or_skip() -> None:
    import redis.asyncio as redis_asyncio

    client = redis_asyncio.Redis.from_url(REDIS_URL)
    try:
        await client.flushdb()
    except OSError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"Redis at {REDIS_URL} unreachable: {exc}")
        pytest.skip(f"Redis at {REDIS_URL} unreachable: {exc}")
    finally:
        await client.aclose()


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def bus(request: pytest.FixtureRequest) -> AsyncIterator[EventBus]:
    instance: EventBus
    if request.param == "redis":
        await _redis_or_skip()
        instance = RedisEventBus(REDIS_URL, history_size=5)
    else:
        instance = MemoryEventBus(history_size=5)
    await instance.start()
    yield instance
    await instance.stop()


async def _take(subscription: object, count: int) -> list[Event]:
    events = []
    for _ in range(count):
        event = await subscription.next(5)  # type: ignore[attr-defined]
        assert event is not None
        events.append(event)
    return events


async def test_subscribers_get_events_in_order_with_rising_ids(bus: EventBus) -> None:
    async with bus.subscribe("job:1") as subscription:
        for number in range(3):
            await bus.publish("job:1", {"n": number})
        await bus.publish("job:2", {"n": 99})
        events = await _take(subscription, 3)
        assert await subscription.next(0.05) is None

    assert [event.data["n"] for event in events] == [0, 1, 2]
    keys = [id_key(event.id) for event in events]
    assert keys == sorted(keys)
    assert len(set(keys)) == 3


async def test_resume_yields_only_what_was_missed(bus: EventBus) -> None:
    published = [await bus.publish("job:7", {"n": number}) for number in range(4)]

    async with bus.subscribe("job:7", after=published[1].id) as subscription:
        assert subscription.resumed
        missed = await _take(subscription, 2)
        live = await bus.publish("job:7", {"n": 4})
        assert (await subscription.next(5)) == live

    assert [event.data["n"] for event in missed] == [2, 3]


async def test_resume_from_a_trimmed_or_unknown_id_is_not_resumed(
    bus: EventBus,
) -> None:
    first = await bus.publish("job:8", {"n": 0})
    for number in range(1, 40):
        await bus.publish("job:8", {"n": number})

    for after in (first.id, "1-1", "garbage"):
        async with bus.subscribe("job:8", after=after) as subscription:
            assert not subscription.resumed
            assert subscription.head is not None
            assert subscription.retained[-1].data["n"] == 39
            assert await subscription.next(0.05) is None


@pytest.mark.parametrize(
    "event_id",
    ["\u00b2-0", "1-\u00b9", "\u0661-0", f"{2**64}-0", f"1-{2**64}", "-1-0", "1e5-0"],
)
def test_id_key_rejects_malformed_id(event_id: str) -> None:
    assert id_key(event_id) is None


def test_id_key_accepts_largest_redis_id() -> None:
    assert id_key(f"{2**64 - 1}-{2**64 - 1}") == (2**64 - 1, 2**64 - 1)


async def test_resume_from_malformed_id_starts_fresh(bus: EventBus) -> None:
    await bus.publish("job:9", {"n": 0})

    for after in ("\u00b2-0", "1-\u00b9", f"{2**64}-0"):
        async with bus.subscribe("job:9", after=after) as subscription:
            assert not subscription.resumed
            assert subscription.retained[-1].data["n"] == 0


@pytest.mark.redis
async def test_redis_bus_fans_out_between_processes() -> None:
    await _redis_or_skip()
    publisher, listener = RedisEventBus(REDIS_URL), RedisEventBus(REDIS_URL)
    await publisher.start()
    await listener.start()
    try:
        async with listener.subscribe("job:3") as subscription:
            sent = await publisher.publish("job:3", {"type": "progress"})
            received = await subscription.next(5)
        # A later subscriber elsewhere resumes from the shared history.
        async with publisher.subscribe("job:3", after="0-1") as fresh:
            history = fresh.retained
    finally:
        await publisher.stop()
        await listener.stop()

    assert received == sent
    assert history == [sent]


async def test_stopping_the_bus_ends_subscriptions() -> None:
    bus = MemoryEventBus()
    async with bus.subscribe("job:1") as subscription:
        await bus.stop()
        assert await subscription.next(5) is None
        assert subscription.closed


class _NoHistoryBus(MemoryEventBus):
    async def history(self, channel: str, after: str | None = None) -> History:
        raise ConnectionError("history store unreachable")


async def test_subscription_without_history_still_gets_live_events() -> None:
    bus = _NoHistoryBus()
    async with bus.subscribe("job:1", after="1-1") as subscription:
        live = await bus.publish("job:1", {"n": 1})
        received = await subscription.next(5)

    assert not subscription.resumed
    assert subscription.head is None
    assert received == live
