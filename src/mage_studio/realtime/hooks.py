"""App state of the realtime domain: the event bus and the job event publisher.

`install(app)` sets `app.state.events` (an `EventBus`: in process, or Redis when
`redis_url` is set) and `app.state.job_event_publisher`, through which the queue
domain announces job changes. The bus connects and disconnects with the app.
"""

from __future__ import annotations

from fastapi import FastAPI

from mage_studio.core.events import EventBus, create_event_bus
from mage_studio.realtime.publisher import JobEventPublisher


def install(app: FastAPI) -> None:
    app.state.events = create_event_bus(app.state.settings)
    app.state.job_event_publisher = JobEventPublisher()
    app.state.service_factories.append(_event_bus)


async def _event_bus(app: FastAPI) -> EventBus:
    bus: EventBus = app.state.events
    return bus
