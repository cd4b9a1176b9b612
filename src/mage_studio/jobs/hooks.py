"""App state the jobs domain provides: the file storage."""

from __future__ import annotations

from fastapi import FastAPI

from mage_studio.core.storage import create_storage


def install(app: FastAPI) -> None:
    """Expose the configured storage backend as `app.state.storage`."""
    app.state.storage = create_storage(app.state.settings)
