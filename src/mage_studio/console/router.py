"""Serve the DeforumationQT web console: one HTML page and its CSS and JS modules.

The files live in `static/` inside the package (no build step). Only files of that
folder are served, by exact name, so no path from a request reaches the disk.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter
from fastapi import Path as PathParam
from fastapi.responses import FileResponse

from mage_studio.errors import NotFound

STATIC_DIR = Path(__file__).parent / "static"
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
}
# Frames, previews and videos may come from the object store's domain, so media
# sources are open; scripts, styles and API calls stay on this origin.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; "
        "img-src * data: blob:; media-src * blob:; connect-src 'self'; "
        "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
        "form-action 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}

router = APIRouter(tags=["console"])


def _assets() -> dict[str, Path]:
    return {
        path.name: path
        for path in STATIC_DIR.iterdir()
        if path.is_file() and path.suffix in CONTENT_TYPES
    }


ASSETS = _assets()


def _file(path: Path) -> FileResponse:
    return FileResponse(
        path, media_type=CONTENT_TYPES[path.suffix], headers=SECURITY_HEADERS
    )


@router.get(
    "/deforumation-qt",
    response_class=FileResponse,
    responses={200: {"content": {"text/html": {"schema": {"type": "string"}}}}},
)
async def console_page() -> FileResponse:
    """Serve the DeforumationQT web console: upload, render, steer and watch jobs."""
    return _file(STATIC_DIR / "index.html")


@router.get(
    "/deforumation-qt/static/{name}",
    response_class=FileResponse,
    responses={
        200: {
            "content": {
                media_type.split(";")[0]: {"schema": {"type": "string"}}
                for media_type in CONTENT_TYPES.values()
            }
        }
    },
)
async def console_asset(
    name: Annotated[str, PathParam(max_length=64, pattern=r"^[\w.-]+$")],
) -> FileResponse:
    """Serve a stylesheet or JavaScript module of the console."""
    path = ASSETS.get(name)
    if path is None:
        raise NotFound(f"Console file not found: {name}.")
    return _file(path)
