"""All billing routes: wallets, finance operations, catalog, orders, credits."""

from fastapi import APIRouter

from mage_studio.billing.routes import catalog, credits, finance, orders, wallets

router = APIRouter()
for module in (wallets, finance, catalog, orders, credits):
    router.include_router(module.router)

__all__ = ["router"]
