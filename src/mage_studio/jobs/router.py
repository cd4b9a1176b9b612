"""Routes of the jobs domain: downloads, video jobs, catalogs, SD instances."""

from __future__ import annotations

from fastapi import APIRouter

from mage_studio.jobs import catalog, files, routes, sd_instances

router = APIRouter()
router.include_router(files.router)
router.include_router(routes.router)
router.include_router(catalog.router)
router.include_router(sd_instances.router)
