"""Process probes and metrics: `/health`, `/ready`, `/metrics`."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel
from sqlalchemy import text

from mage_studio.core.routing import get_database
from mage_studio.errors import ServiceUnavailable

router = APIRouter(tags=["system"])


class Probe(BaseModel):
    status: str


@router.get("/health", response_model=Probe)
async def health() -> Probe:
    """Report that the process is up. Touches no dependency."""
    return Probe(status="ok")


@router.get("/ready", response_model=Probe)
async def ready(request: Request) -> Probe:
    """Check that the database runs a query; 503 when it does not."""
    database = get_database(request)
    try:
        async with database.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception as exc:
        raise ServiceUnavailable("The database is unreachable.") from exc
    return Probe(status="ready")


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}}},
)
async def metrics() -> Response:
    """Prometheus metrics in the text exposition format."""
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
