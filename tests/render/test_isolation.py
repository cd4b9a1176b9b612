"""The render package must import on a worker machine without server dependencies."""

from __future__ import annotations

import subprocess
import sys

SERVER_MODULES = [
    "sqlalchemy",
    "fastapi",
    "starlette",
    "alembic",
    "asyncpg",
    "aiosqlite",
    "redis",
]
# The worker protocol's bodies are shared with the server; that module imports
# nothing but Pydantic.
SHARED_MODULES = ["mage_studio.queue", "mage_studio.queue.schemas"]

SCRIPT = f"""
import importlib, pkgutil, sys
for name in {SERVER_MODULES!r}:
    sys.modules[name] = None  # makes any import of it fail
import mage_studio.render as render
for module in pkgutil.walk_packages(render.__path__, "mage_studio.render."):
    importlib.import_module(module.name)
server = [m for m in sys.modules if m.startswith("mage_studio.")]
print(sorted(m for m in server if not m.startswith("mage_studio.render")))
"""


def test_render_imports_without_server_modules() -> None:
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=False
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == repr(SHARED_MODULES)
