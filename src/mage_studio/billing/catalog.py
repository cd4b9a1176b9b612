"""The catalog: categories and products, and who may manage which product.

Sellers are users with the seller or admin role. A seller manages only the products
they own. Products without an owner belong to the platform (the seeded credit packs,
and every product an admin creates); admins manage those. Only platform products may
grant credits or a priority tier, because a seller selling credits would create
platform credits for their own profit.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from mage_studio.billing import repository
from mage_studio.billing.models import Category, Product
from mage_studio.billing.schemas import ProductWrite
from mage_studio.core.db import utcnow
from mage_studio.core.schemas import PageParams
from mage_studio.errors import Forbidden, NotFound, ValidationFailed
from mage_studio.users.models import Role, User


def is_seller(user: User) -> bool:
    return user.is_admin or user.has_role(Role.SELLER)


def require_seller(user: User) -> None:
    if not is_seller(user):
        raise Forbidden("Only sellers and admins can manage products.")


def can_manage(user: User, product: Product) -> bool:
    if product.is_platform:
        return user.is_admin
    return product.user_id == user.id


async def list_categories(session: AsyncSession) -> list[tuple[Category, int]]:
    return await repository.categories_with_counts(session)


async def get_category(session: AsyncSession, category_id: int) -> tuple[Category, int]:
    rows = await repository.categories_with_counts(session, category_id=category_id)
    if not rows:
        raise NotFound("The category was not found.")
    return rows[0]


async def categories_of_seller(
    session: AsyncSession, seller_id: int
) -> list[tuple[Category, int]]:
    """Categories in which the user sells visible products, with their counts."""
    return await repository.categories_with_counts(session, seller_id=seller_id)


async def get_product(
    session: AsyncSession, product_id: int, viewer: User | None = None
) -> Product:
    """Return a visible product, or a hidden one to a user who manages it."""
    product = await session.get(Product, product_id)
    if product is None or product.deleted_at is not None:
        raise NotFound("The product was not found.")
    if not product.active and (viewer is None or not can_manage(viewer, product)):
        raise NotFound("The product was not found.")
    return product


async def _managed_product(
    session: AsyncSession, user: User, product_id: int
) -> Product:
    require_seller(user)
    product = await session.get(Product, product_id)
    if product is None or product.deleted_at is not None:
        raise NotFound("The product was not found.")
    if not can_manage(user, product):
        raise NotFound("The product was not found.")
    return product


async def products_for_user(
    session: AsyncSession, user: User, page: PageParams
) -> tuple[list[Product], int]:
    """Return a page of the products the caller manages, hidden ones included."""
    require_seller(user)
    owner_id = None if user.is_admin else user.id
    return await repository.products_managed_by(session, page, user_id=owner_id)


async def _check_product_data(
    session: AsyncSession, data: ProductWrite, *, platform: bool
) -> None:
    if await session.get(Category, data.category_id) is None:
        raise ValidationFailed.field("categoryId", "The category does not exist.")
    if not platform and data.credits:
        raise ValidationFailed.field(
            "credits", "Only platform products can grant credits."
        )
    if not platform and data.priority_tier is not None:
        raise ValidationFailed.field(
            "priorityTier", "Only platform products can grant a priority tier."
        )


def _apply(product: Product, data: ProductWrite) -> None:
    product.category_id = data.category_id
    product.name = data.name
    product.description = data.description
    product.price = data.price
    product.credits = data.credits
    product.priority_tier = data.priority_tier
    product.availability = data.availability
    product.active = data.active


async def create_product(
    session: AsyncSession, user: User, data: ProductWrite
) -> Product:
    """Create a product owned by the caller, or by the platform when an admin."""
    require_seller(user)
    platform = user.is_admin
    await _check_product_data(session, data, platform=platform)
    product = Product(user=None if platform else user)
    _apply(product, data)
    session.add(product)
    await session.flush()
    return product


async def update_product(
    session: AsyncSession, user: User, product_id: int, data: ProductWrite
) -> Product:
    product = await _managed_product(session, user, product_id)
    await _check_product_data(session, data, platform=product.is_platform)
    _apply(product, data)
    await session.flush()
    return product


async def toggle_product(session: AsyncSession, user: User, product_id: int) -> Product:
    product = await _managed_product(session, user, product_id)
    product.active = not product.active
    await session.flush()
    return product


async def delete_product(session: AsyncSession, user: User, product_id: int) -> None:
    """Hide the product for good; orders keep their copy of its name and price."""
    product = await _managed_product(session, user, product_id)
    product.deleted_at = utcnow()
    product.active = False
    await session.flush()


async def category_by_slug(session: AsyncSession, slug: str) -> Category | None:
    category: Category | None = await session.scalar(
        select(Category).where(Category.slug == slug)
    )
    return category
