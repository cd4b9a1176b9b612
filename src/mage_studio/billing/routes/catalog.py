"""Categories and products."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, status

from mage_studio.auth.deps import CurrentUser
from mage_studio.billing import catalog, presenters, repository
from mage_studio.billing.deps import OptionalUser, RowIdPath
from mage_studio.billing.schemas import (
    INT32_MAX,
    CategoryRead,
    ProductRead,
    ProductWrite,
)
from mage_studio.core.routing import DbRoute, DbSession
from mage_studio.core.schemas import (
    Envelope,
    Page,
    PageParams,
    SortDirection,
    page_params,
)

router = APIRouter(route_class=DbRoute, tags=["catalog"])

UserIdPath = Annotated[int, Path(alias="userId", ge=1, le=INT32_MAX)]
Paging = Annotated[PageParams, Depends(page_params)]


@router.get("/api/categories")
async def list_categories(session: DbSession) -> Envelope[list[CategoryRead]]:
    """List every category with its number of products on sale."""
    rows = await catalog.list_categories(session)
    return Envelope(data=[presenters.category_read(*row) for row in rows])


@router.get("/api/categories/by-user-id")
async def list_my_categories(
    user: CurrentUser, session: DbSession
) -> Envelope[list[CategoryRead]]:
    """List the categories in which the caller sells, with their product counts."""
    rows = await catalog.categories_of_seller(session, user.id)
    return Envelope(data=[presenters.category_read(*row) for row in rows])


@router.get("/api/categories/by-user-id/{userId}")
async def list_categories_of_user(
    user_id: UserIdPath, session: DbSession
) -> Envelope[list[CategoryRead]]:
    """List the categories in which a user sells, with their product counts."""
    rows = await catalog.categories_of_seller(session, user_id)
    return Envelope(data=[presenters.category_read(*row) for row in rows])


@router.get("/api/categories/{id}")
async def get_category(id: RowIdPath, session: DbSession) -> Envelope[CategoryRead]:
    """Show one category."""
    category, count = await catalog.get_category(session, id)
    return Envelope(data=presenters.category_read(category, count))


@router.get("/api/products")
async def list_products(
    session: DbSession,
    page: Paging,
    category_id: Annotated[
        int | None, Query(alias="categoryId", ge=1, le=INT32_MAX)
    ] = None,
    name: Annotated[str | None, Query(max_length=255, pattern=r"^[^\x00]*$")] = None,
    order_type: Annotated[repository.ProductSort, Query(alias="orderType")] = "id",
    order_direction: Annotated[SortDirection, Query(alias="orderDirection")] = "asc",
) -> Page[ProductRead]:
    """List the products on sale, filtered by `categoryId` and by `name` (contains,
    case-insensitive), sorted by `orderType` in `orderDirection`."""
    products, total = await repository.search_products(
        session,
        page,
        category_id=category_id,
        name=name.strip() if name else None,
        order_type=order_type,
        order_direction=order_direction,
    )
    return Page(
        data=[presenters.product_read(item) for item in products],
        meta=page.meta(total),
    )


@router.get("/api/products/get-products-for-user")
async def list_products_for_user(
    user: CurrentUser, session: DbSession, page: Paging
) -> Page[ProductRead]:
    """List the products the caller manages, inactive ones included: a seller's own,
    or the platform's for an admin."""
    products, total = await catalog.products_for_user(session, user, page)
    return Page(
        data=[presenters.product_read(item) for item in products],
        meta=page.meta(total),
    )


@router.get("/api/products/{id}")
async def get_product(
    id: RowIdPath, session: DbSession, viewer: OptionalUser
) -> Envelope[ProductRead]:
    """Show a product on sale. An inactive one is shown only to the seller or admin
    who manages it."""
    product = await catalog.get_product(session, id, viewer)
    return Envelope(data=presenters.product_read(product))


@router.post("/api/products", status_code=status.HTTP_201_CREATED)
async def create_product(
    body: ProductWrite, user: CurrentUser, session: DbSession
) -> Envelope[ProductRead]:
    """Create a product (sellers and admins). An admin's product belongs to the
    platform and may grant `credits` and a `priorityTier`; a seller's may not."""
    product = await catalog.create_product(session, user, body)
    return Envelope(data=presenters.product_read(product))


@router.put("/api/products/{id}")
async def update_product(
    id: RowIdPath, body: ProductWrite, user: CurrentUser, session: DbSession
) -> Envelope[ProductRead]:
    """Replace a product the caller manages; anyone else's is 404."""
    product = await catalog.update_product(session, user, id, body)
    return Envelope(data=presenters.product_read(product))


@router.patch("/api/products/{id}")
async def toggle_product(
    id: RowIdPath, user: CurrentUser, session: DbSession
) -> Envelope[ProductRead]:
    """Switch a product the caller manages between active and inactive."""
    product = await catalog.toggle_product(session, user, id)
    return Envelope(data=presenters.product_read(product))


@router.delete("/api/products/{id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_product(id: RowIdPath, user: CurrentUser, session: DbSession) -> None:
    """Delete a product the caller manages; past orders keep their copy of it."""
    await catalog.delete_product(session, user, id)
