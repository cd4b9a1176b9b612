"""Categories and products over HTTP, and who may manage which product."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from mage_studio.config import Settings
from tests.billing.factories import create_category, create_product
from tests.factories import auth_headers, create_admin, create_user


def _product_body(category_id: int, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "categoryId": category_id,
        "name": "Hand-made LoRA",
        "description": "Trained on my paintings.",
        "price": 1999,
        "availability": 5,
    }
    body.update(overrides)
    return body


async def test_categories_count_visible_products(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    seller = await create_user(session, roles=["seller"])
    parent = await create_category(session, name="Models")
    child = await create_category(session, name="LoRAs", parent=parent)
    await create_product(session, category=child, seller=seller)
    await create_product(session, category=child)
    await create_product(session, category=child, active=False)
    await session.commit()

    listed = await client.get("/api/categories")
    shown = await client.get(f"/api/categories/{child.id}")
    by_seller = await client.get(f"/api/categories/by-user-id/{seller.id}")
    missing = await client.get("/api/categories/99999")

    assert listed.status_code == 200
    counts = {item["id"]: item["productsCount"] for item in listed.json()["data"]}
    assert counts == {parent.id: 0, child.id: 2}
    assert shown.json()["data"] == {
        "id": child.id,
        "name": "LoRAs",
        "slug": child.slug,
        "description": "Things to buy.",
        "parentId": parent.id,
        "productsCount": 2,
    }
    assert [
        (item["id"], item["productsCount"]) for item in by_seller.json()["data"]
    ] == [(child.id, 1)]
    assert missing.status_code == 404


async def test_my_categories_need_auth(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    seller = await create_user(session, roles=["seller"])
    category = await create_category(session)
    await create_product(session, category=category, seller=seller)
    await session.commit()

    anonymous = await client.get("/api/categories/by-user-id")
    mine = await client.get(
        "/api/categories/by-user-id", headers=auth_headers(settings, seller)
    )

    assert anonymous.status_code == 401
    assert [item["id"] for item in mine.json()["data"]] == [category.id]


async def test_seller_manages_own_product(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    seller = await create_user(session, roles=["seller"])
    category = await create_category(session)
    await session.commit()
    headers = auth_headers(settings, seller)

    created = await client.post(
        "/api/products", json=_product_body(category.id), headers=headers
    )
    assert created.status_code == 201, created.text
    product = created.json()["data"]
    assert product["user"] == {"id": seller.id, "login": seller.login}
    assert product["credits"] == 0
    assert product["availability"] == 5

    updated = await client.put(
        f"/api/products/{product['id']}",
        json=_product_body(category.id, name="Better LoRA", price=2500),
        headers=headers,
    )
    toggled = await client.patch(f"/api/products/{product['id']}", headers=headers)
    hidden = await client.get(f"/api/products/{product['id']}")
    seen_by_owner = await client.get(f"/api/products/{product['id']}", headers=headers)
    mine = await client.get("/api/products/get-products-for-user", headers=headers)
    deleted = await client.delete(f"/api/products/{product['id']}", headers=headers)
    gone = await client.get(f"/api/products/{product['id']}", headers=headers)

    assert updated.json()["data"]["name"] == "Better LoRA"
    assert updated.json()["data"]["price"] == 2500
    assert toggled.json()["data"]["active"] is False
    assert hidden.status_code == 404
    assert seen_by_owner.status_code == 200
    assert [item["id"] for item in mine.json()["data"]] == [product["id"]]
    assert deleted.status_code == 204
    assert gone.status_code == 404


async def test_others_products_are_not_found(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    owner = await create_user(session, roles=["seller"])
    other_seller = await create_user(session, roles=["seller"])
    category = await create_category(session)
    product = await create_product(session, category=category, seller=owner)
    await session.commit()
    headers = auth_headers(settings, other_seller)

    responses = [
        await client.put(
            f"/api/products/{product.id}",
            json=_product_body(category.id),
            headers=headers,
        ),
        await client.patch(f"/api/products/{product.id}", headers=headers),
        await client.delete(f"/api/products/{product.id}", headers=headers),
    ]
    mine = await client.get("/api/products/get-products-for-user", headers=headers)

    assert [response.status_code for response in responses] == [404, 404, 404]
    assert mine.json()["data"] == []
    still = await client.get(f"/api/products/{product.id}")
    assert still.json()["data"]["name"] == product.name
    assert still.json()["data"]["active"] is True


async def test_admin_cannot_manage_sellers_products(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    owner = await create_user(session, roles=["seller"])
    admin = await create_admin(session)
    product = await create_product(session, seller=owner)
    await session.commit()

    response = await client.patch(
        f"/api/products/{product.id}", headers=auth_headers(settings, admin)
    )

    assert response.status_code == 404


async def test_admin_products_belong_to_platform(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    admin = await create_admin(session)
    category = await create_category(session)
    seeded = await create_product(session, category=category, credits=100)
    await session.commit()
    headers = auth_headers(settings, admin)

    created = await client.post(
        "/api/products",
        json=_product_body(category.id, credits=500, priorityTier=1),
        headers=headers,
    )
    toggled = await client.patch(f"/api/products/{seeded.id}", headers=headers)
    managed = await client.get("/api/products/get-products-for-user", headers=headers)

    assert created.status_code == 201, created.text
    assert created.json()["data"]["user"] is None
    assert created.json()["data"]["credits"] == 500
    assert created.json()["data"]["priorityTier"] == 1
    assert toggled.status_code == 200
    assert {item["id"] for item in managed.json()["data"]} == {
        seeded.id,
        created.json()["data"]["id"],
    }


@pytest.mark.parametrize(("field", "value"), [("credits", 10), ("priorityTier", 1)])
async def test_sellers_cannot_grant_credits(
    client: httpx.AsyncClient,
    session: AsyncSession,
    settings: Settings,
    field: str,
    value: int,
) -> None:
    seller = await create_user(session, roles=["seller"])
    category = await create_category(session)
    await session.commit()

    response = await client.post(
        "/api/products",
        json=_product_body(category.id, **{field: value}),
        headers=auth_headers(settings, seller),
    )

    assert response.status_code == 422
    assert field in response.json()["error"]["validator"]


async def test_plain_users_cannot_sell(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    user = await create_user(session)
    category = await create_category(session)
    await session.commit()
    headers = auth_headers(settings, user)

    created = await client.post(
        "/api/products", json=_product_body(category.id), headers=headers
    )
    listed = await client.get("/api/products/get-products-for-user", headers=headers)

    assert created.status_code == 403
    assert listed.status_code == 403


@pytest.mark.parametrize(
    "overrides",
    [
        {"price": 1.5},
        {"price": "10"},
        {"price": -1},
        {"price": 2**63},
        {"credits": 0.5},
        {"name": "   "},
        {"name": "bad\u0000name"},
        {"availability": -1},
        {"active": "yes"},
        {"categoryId": 99999},
    ],
)
async def test_invalid_product_bodies_are_422(
    client: httpx.AsyncClient,
    session: AsyncSession,
    settings: Settings,
    overrides: dict[str, Any],
) -> None:
    admin = await create_admin(session)
    category = await create_category(session)
    await session.commit()

    response = await client.post(
        "/api/products",
        json=_product_body(category.id, **overrides),
        headers=auth_headers(settings, admin),
    )

    assert response.status_code == 422
    assert set(response.json()["error"]["validator"]) == set(overrides)


async def test_product_search_filters_and_sorts(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    packs = await create_category(session)
    other = await create_category(session)
    small = await create_product(session, category=packs, name="Small pack", price=500)
    large = await create_product(session, category=packs, name="Large pack", price=900)
    await create_product(session, category=other, name="Large LoRA", price=100)
    await create_product(session, category=packs, name="Hidden pack", active=False)
    await session.commit()

    by_category = await client.get(
        "/api/products",
        params={"categoryId": packs.id, "orderType": "price", "orderDirection": "desc"},
    )
    by_name = await client.get("/api/products", params={"name": "large"})
    wildcard = await client.get("/api/products", params={"name": "%"})
    paged = await client.get("/api/products", params={"per_page": 1, "page": 2})

    assert [item["id"] for item in by_category.json()["data"]] == [large.id, small.id]
    assert {item["name"] for item in by_name.json()["data"]} == {
        "Large pack",
        "Large LoRA",
    }
    assert wildcard.json()["data"] == []
    assert paged.json()["meta"] == {
        "current_page": 2,
        "per_page": 1,
        "total": 3,
        "last_page": 3,
    }
    assert len(paged.json()["data"]) == 1


@pytest.mark.parametrize(
    ("direction", "expected"),
    [("DESC", ["Large", "Small"]), ("Asc", ["Small", "Large"])],
)
async def test_product_sort_direction_any_case(
    client: httpx.AsyncClient,
    session: AsyncSession,
    direction: str,
    expected: list[str],
) -> None:
    packs = await create_category(session)
    await create_product(session, category=packs, name="Small", price=500)
    await create_product(session, category=packs, name="Large", price=900)
    await session.commit()

    response = await client.get(
        "/api/products",
        params={"orderType": "price", "orderDirection": direction},
    )

    assert response.status_code == 200
    assert [item["name"] for item in response.json()["data"]] == expected


@pytest.mark.parametrize(
    "params",
    [{"orderType": "password_hash"}, {"orderDirection": "sideways"}, {"page": 0}],
)
async def test_product_search_rejects_unknown_sorting(
    client: httpx.AsyncClient, params: dict[str, Any]
) -> None:
    response = await client.get("/api/products", params=params)
    assert response.status_code == 422
