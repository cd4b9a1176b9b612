"""Composition root: builds the FastAPI application from settings."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Protocol

import structlog
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from mage_studio import __version__
from mage_studio.config import Settings, get_settings
from mage_studio.core import system
from mage_studio.core.body_limit import BodySizeLimitMiddleware
from mage_studio.core.db import Database
from mage_studio.core.middleware import RequestContextMiddleware
from mage_studio.core.openapi import install_openapi
from mage_studio.domains import domain_modules
from mage_studio.errors import install_error_handlers
from mage_studio.logging import configure_logging
from mage_studio.queue.schemas import API_PREFIX as WORKER_API_PREFIX

log = structlog.get_logger(__name__)

DESCRIPTION = """
Upload a video or image, ask for a Stable Diffusion restyle (vid2vid) or a Deforum
animation, approve a preview and download the rendered MP4. Renders run on workers
pulled from a priority queue and are paid with GPU credits.

Authenticate with `Authorization: Bearer <accessToken>` from `POST /api/auth/login`.
Every error has the shape `{"error": {"message", "code", "validator"?}}`.
"""


class BackgroundService(Protocol):
    """A task the API process runs beside requests (reaper, workers, ...)."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


ServiceFactory = Callable[[FastAPI], Awaitable[BackgroundService | None]]


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    factories: list[ServiceFactory] = app.state.service_factories
    async with AsyncExitStack() as stack:
        for factory in factories:
            service = await factory(app)
            if service is None:
                continue
            await service.start()
            stack.push_async_callback(service.stop)
        log.info("api_started", version=__version__)
        yield
    await app.state.database.dispose()
    log.info("api_stopped")


def _install_domains(app: FastAPI) -> None:
    app.include_router(system.router)
    for module in domain_modules("router"):
        app.include_router(module.router)
    for module in domain_modules("hooks"):
        module.install(app)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the application; tests pass their own settings."""
    settings = settings or get_settings()
    configure_logging(settings)

    app = FastAPI(
        title=settings.app_name,
        version=__version__,
        description=DESCRIPTION,
        lifespan=_lifespan,
    )
    app.state.settings = settings
    app.state.database = Database(
        settings.database_url,
        pool_size=settings.database_pool_size,
        busy_timeout_ms=settings.sqlite_busy_timeout_ms,
        null_pool=settings.database_null_pool,
    )
    app.state.service_factories = []

    install_error_handlers(app)
    app.add_middleware(
        BodySizeLimitMiddleware,
        max_bytes=settings.request_body_max_bytes,
        exempt_prefixes=(WORKER_API_PREFIX,),
    )
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.frontend_origins,
        allow_methods=["*"],
        allow_headers=["*"],
        expose_headers=["X-Request-ID", "Retry-After"],
    )
    app.add_middleware(RequestContextMiddleware)
    _install_domains(app)
    install_openapi(app)
    return app
