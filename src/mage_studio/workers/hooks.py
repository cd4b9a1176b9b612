"""Start the embedded render workers with the API (`settings.workers_in_process`)."""

from __future__ import annotations

from fastapi import FastAPI

from mage_studio.config import Settings
from mage_studio.workers.embedded import EmbeddedWorkers


def install(app: FastAPI) -> None:
    settings: Settings = app.state.settings
    if settings.workers_in_process > 0:
        app.state.service_factories.append(create_embedded_workers)


async def create_embedded_workers(app: FastAPI) -> EmbeddedWorkers:
    return EmbeddedWorkers(app)
