"""Orders and seller ratings."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, status

from mage_studio.auth.deps import AppSettings, CurrentUser
from mage_studio.billing import orders, presenters, ratings, repository
from mage_studio.billing.deps import AccountHolder, RowIdPath
from mage_studio.billing.schemas import (
    INT32_MAX,
    OrderConfirm,
    OrderCreate,
    OrderRead,
    UserRatingCreate,
    UserRatingRead,
)
from mage_studio.core.routing import DbRoute, DbSession
from mage_studio.core.schemas import Envelope, Page, PageParams, page_params

router = APIRouter(route_class=DbRoute, tags=["orders"])

Paging = Annotated[PageParams, Depends(page_params)]


@router.post("/api/orders", status_code=status.HTTP_201_CREATED)
async def place_order(
    body: OrderCreate, user: AccountHolder, session: DbSession, settings: AppSettings
) -> Envelope[OrderRead]:
    """Buy `quantity` items of `productId`, paid from the caller's balance.

    The price, credits and tier are copied onto the order. More than the product's
    availability is 400 (code 1010); a short balance is 402 (code 1012). A platform
    credit pack is delivered at once (status finished); a seller's product is paid
    into escrow (status paid) until the caller confirms receipt.
    """
    order = await orders.place_order(
        session,
        user,
        product_id=body.product_id,
        quantity=body.quantity,
        settings=settings,
    )
    return Envelope(data=presenters.order_read(order))


@router.get("/api/orders/purchases")
async def list_purchases(
    user: CurrentUser, session: DbSession, page: Paging
) -> Page[OrderRead]:
    """List the caller's orders as a customer, newest first."""
    found, total = await repository.orders_page(session, page, customer_id=user.id)
    return Page(
        data=[presenters.order_read(item) for item in found], meta=page.meta(total)
    )


@router.get("/api/orders/sales")
async def list_sales(
    user: CurrentUser, session: DbSession, page: Paging
) -> Page[OrderRead]:
    """List the orders of the caller's products, newest first."""
    found, total = await repository.orders_page(session, page, seller_id=user.id)
    return Page(
        data=[presenters.order_read(item) for item in found], meta=page.meta(total)
    )


@router.patch("/api/orders/confirm-order")
async def confirm_order(
    body: OrderConfirm, user: CurrentUser, session: DbSession
) -> Envelope[OrderRead]:
    """Confirm receipt of the caller's order: the seller is paid, once. Confirming
    again is 409 (code 1013); someone else's order is 404 (code 1009)."""
    order = await orders.confirm_order(session, user, body.order_id)
    return Envelope(data=presenters.order_read(order))


@router.get("/api/orders/{id}")
async def get_order(
    id: RowIdPath, user: CurrentUser, session: DbSession
) -> Envelope[OrderRead]:
    """Show an order the caller bought or sold; any other is 404 (code 1009)."""
    order = await orders.get_order(session, user, id)
    return Envelope(data=presenters.order_read(order))


@router.get("/api/user-ratings")
async def list_my_ratings(
    user: CurrentUser, session: DbSession, page: Paging
) -> Page[UserRatingRead]:
    """List the ratings the caller received as a seller, newest first."""
    found, total = await repository.ratings_page(session, page, user_id=user.id)
    return Page(
        data=[presenters.rating_read(item) for item in found], meta=page.meta(total)
    )


@router.get("/api/user-ratings/{userId}")
async def list_user_ratings(
    user_id: Annotated[int, Path(alias="userId", ge=1, le=INT32_MAX)],
    session: DbSession,
    page: Paging,
) -> Page[UserRatingRead]:
    """List the ratings a user received as a seller, newest first."""
    found, total = await repository.ratings_page(session, page, user_id=user_id)
    return Page(
        data=[presenters.rating_read(item) for item in found], meta=page.meta(total)
    )


@router.post("/api/user-ratings", status_code=status.HTTP_201_CREATED)
async def rate_order(
    body: UserRatingCreate, user: CurrentUser, session: DbSession
) -> Envelope[UserRatingRead]:
    """Rate the seller of the caller's finished order from 1 to 5, with a text;
    once per order (409 after)."""
    rating = await ratings.rate_order(
        session, user, order_id=body.order_id, rating=body.rating, text=body.text
    )
    return Envelope(data=presenters.rating_read(rating))
