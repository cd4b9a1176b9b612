"""The administration API under `/api/administration`, and `GET /api/status`.

Worker tokens and workers (`/workers`), SD instances (`/sd-instances`), FAQ
questions and message moderation live with their own domains under the same prefix.
"""

from fastapi import APIRouter

from mage_studio.admin.routes import audit, commerce, content, status, support, users

PREFIX = "/api/administration"

router = APIRouter()
for module in (users, commerce, support, content, audit):
    router.include_router(module.router, prefix=PREFIX)
router.include_router(status.router)

__all__ = ["router"]
