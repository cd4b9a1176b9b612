"""The domain packages, in the order their routers are mounted.

Each domain may provide, by convention:
- `models.py`: ORM models (imported so the metadata is complete),
- `router.py`: `router`, an `APIRouter` mounted on the app,
- `hooks.py`: `install(app)`, which adds background services or app state,
- `seed.py`: `seed(session, settings)`, run by `mage-studio seed`,
- `cli.py`: `register(app)`, which adds commands to the `mage-studio` CLI.
A module that is absent is skipped.
"""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType

DOMAINS = (
    "users",
    "auth",
    "jobs",
    "queue",
    "workers",
    "render",
    "billing",
    "messaging",
    "support",
    "faq",
    "admin",
    "studio",
    "realtime",
    "console",
)


def domain_modules(kind: str) -> list[ModuleType]:
    """Import `mage_studio.<domain>.<kind>` for every domain that has it."""
    modules = []
    for domain in DOMAINS:
        name = f"mage_studio.{domain}.{kind}"
        if importlib.util.find_spec(f"mage_studio.{domain}") is None:
            continue
        if importlib.util.find_spec(name) is None:
            continue
        modules.append(importlib.import_module(name))
    return modules
