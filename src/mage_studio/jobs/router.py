"""Routes of the jobs domain: file downloads, uploads, renders and catalogs."""

from __future__ import annotations

from fastapi import APIRouter

from mage_studio.jobs import files

router = APIRouter()
router.include_router(files.router)
