"""Seed the model catalog and the Deforum presets of the render package.

Idempotent: rows are matched by name (models) and slug (presets), and existing rows
are left as an admin may have edited them.
"""

from __future__ import annotations

from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from mage_studio.config import Settings
from mage_studio.jobs.models import DeforumPreset, RenderModel
from mage_studio.render.presets import preset_catalog

log = structlog.get_logger(__name__)

MODELS: tuple[dict[str, Any], ...] = (
    {
        "name": "Stable Diffusion 1.5",
        "backend_name": "v1-5-pruned-emaonly.safetensors",
        "base": "sd15",
        "width": 512,
        "height": 512,
        "credits_per_frame": 1,
    },
    {
        "name": "Dreamshaper 8",
        "backend_name": "dreamshaper_8.safetensors",
        "base": "sd15",
        "width": 512,
        "height": 512,
        "credits_per_frame": 1,
    },
    {
        "name": "Stable Diffusion XL",
        "backend_name": "sd_xl_base_1.0.safetensors",
        "base": "sdxl",
        "width": 1024,
        "height": 1024,
        "credits_per_frame": 4,
    },
)


async def seed(session: AsyncSession, settings: Settings) -> None:
    """Insert the catalog rows that are missing; existing rows are left as edited."""
    del settings
    model_names = set(await session.scalars(select(RenderModel.name)))
    for values in MODELS:
        if values["name"] not in model_names:
            session.add(RenderModel(**values))
    presets = preset_catalog()
    preset_slugs = set(await session.scalars(select(DeforumPreset.slug)))
    for preset in presets:
        if preset.name not in preset_slugs:
            session.add(
                DeforumPreset(
                    slug=preset.name,
                    name=preset.label,
                    description=preset.description,
                    settings=preset.settings,
                )
            )
    await session.flush()
    log.info("jobs_catalog_seeded", models=len(MODELS), presets=len(presets))
