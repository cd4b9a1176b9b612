"""The FAQ: a sorted public list, lookup by slug, audited admin changes."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from mage_studio.config import Settings
from mage_studio.core.audit import AuditEntry
from mage_studio.faq import service
from mage_studio.faq.models import FaqQuestion
from mage_studio.faq.seed import ENTRIES, seed
from mage_studio.faq.service import slugify
from tests.factories import auth_headers, create_admin, create_user

QUESTION_KEYS = {
    "id",
    "slug",
    "question",
    "answer",
    "position",
    "createdAt",
    "updatedAt",
}


async def _add(session: AsyncSession, slug: str, position: int) -> FaqQuestion:
    question = FaqQuestion(
        slug=slug, question=f"{slug}?", answer=f"About {slug}.", position=position
    )
    session.add(question)
    await session.flush()
    return question


async def test_empty_faq_is_an_empty_array(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/questions")

    assert response.status_code == 200
    assert response.json() == {"data": []}


async def test_list_is_sorted_by_position_then_id(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    late = await _add(session, "late", 20)
    first_tie = await _add(session, "first-tie", 10)
    second_tie = await _add(session, "second-tie", 10)
    early = await _add(session, "early", -5)
    await session.commit()

    response = await client.get("/api/questions")

    assert response.status_code == 200
    questions = response.json()["data"]
    assert [q["id"] for q in questions] == [
        early.id,
        first_tie.id,
        second_tie.id,
        late.id,
    ]
    assert set(questions[0]) == QUESTION_KEYS


async def test_get_by_slug_and_unknown_slug(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    question = await _add(session, "credits", 1)
    await session.commit()

    found = await client.get("/api/questions/credits")
    missing = await client.get("/api/questions/no-such-question")

    assert found.status_code == 200
    assert found.json()["data"]["id"] == question.id
    assert found.json()["data"]["answer"] == "About credits."
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == 404


async def test_slug_with_nul_is_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/questions/credits%00")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == 404


@pytest.mark.parametrize(
    "body",
    [
        {"question": "What\u0000?", "answer": "A."},
        {"question": "What?", "answer": "A\u0000."},
    ],
)
async def test_question_with_nul_is_422(
    client: httpx.AsyncClient,
    session: AsyncSession,
    settings: Settings,
    body: dict[str, str],
) -> None:
    admin = await create_admin(session)
    await session.commit()

    response = await client.post(
        "/api/administration/questions",
        json=body,
        headers=auth_headers(settings, admin),
    )

    assert response.status_code == 422
    assert response.json()["error"]["validator"]


async def test_seed_is_idempotent_and_listed(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    await seed(session, settings)
    await seed(session, settings)
    await session.commit()

    response = await client.get("/api/questions")

    slugs = [question["slug"] for question in response.json()["data"]]
    assert slugs == [slug for slug, _, _ in ENTRIES]


async def test_admin_question_changes_are_audited(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    admin = await create_admin(session)
    await session.commit()
    headers = auth_headers(settings, admin)

    created = await client.post(
        "/api/administration/questions",
        json={"question": "Can I render in 4K?", "answer": "Not yet.", "position": 3},
        headers=headers,
    )
    question_id = created.json()["data"]["id"]
    updated = await client.put(
        f"/api/administration/questions/{question_id}",
        json={"answer": "Up to 1080p for now."},
        headers=headers,
    )
    deleted = await client.delete(
        f"/api/administration/questions/{question_id}", headers=headers
    )
    gone = await client.get("/api/questions/can-i-render-in-4k")
    entries = (
        await session.scalars(
            select(AuditEntry)
            .where(AuditEntry.target_type == "faq_question")
            .order_by(AuditEntry.id)
        )
    ).all()

    assert created.status_code == 201
    assert created.json()["data"]["slug"] == "can-i-render-in-4k"
    assert updated.status_code == 200
    assert updated.json()["data"]["answer"] == "Up to 1080p for now."
    assert updated.json()["data"]["question"] == "Can I render in 4K?"
    assert deleted.status_code == 204
    assert deleted.content == b""
    assert gone.status_code == 404
    assert [entry.action for entry in entries] == [
        "faq_question.create",
        "faq_question.update",
        "faq_question.delete",
    ]
    assert entries[1].old_values == {"answer": "Not yet."}
    assert entries[1].new_values == {"answer": "Up to 1080p for now."}
    assert all(entry.actor_id == admin.id for entry in entries)
    assert all(entry.target_id == str(question_id) for entry in entries)


async def test_generated_slugs_do_not_collide(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    admin = await create_admin(session)
    await session.commit()
    headers = auth_headers(settings, admin)
    payload = {"question": "What is Deforum?", "answer": "An animation method."}

    first = await client.post(
        "/api/administration/questions", json=payload, headers=headers
    )
    second = await client.post(
        "/api/administration/questions", json=payload, headers=headers
    )

    assert first.json()["data"]["slug"] == "what-is-deforum"
    assert second.json()["data"]["slug"] == "what-is-deforum-2"


async def test_explicit_duplicate_slug_is_422(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    admin = await create_admin(session)
    existing = await _add(session, "taken", 1)
    other = await _add(session, "other", 2)
    await session.commit()
    headers = auth_headers(settings, admin)

    created = await client.post(
        "/api/administration/questions",
        json={"question": "Q?", "answer": "A.", "slug": "taken"},
        headers=headers,
    )
    renamed = await client.put(
        f"/api/administration/questions/{other.id}",
        json={"slug": existing.slug},
        headers=headers,
    )
    same = await client.put(
        f"/api/administration/questions/{existing.id}",
        json={"slug": existing.slug},
        headers=headers,
    )

    assert created.status_code == 422
    assert "slug" in created.json()["error"]["validator"]
    assert renamed.status_code == 422
    assert same.status_code == 200


def _miss_first_slug_lookup(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the first slug lookup report a free slug, as it does for a request
    whose lookup ran just before a concurrent request stored the same slug."""
    slug_taken = service._slug_taken
    calls = 0

    async def miss_first_lookup(
        session: AsyncSession, slug: str, except_id: int | None
    ) -> bool:
        nonlocal calls
        calls += 1
        if calls == 1:
            return False
        return await slug_taken(session, slug, except_id)

    monkeypatch.setattr(service, "_slug_taken", miss_first_lookup)


async def test_racing_generated_slug_is_numbered(
    client: httpx.AsyncClient,
    session: AsyncSession,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    admin = await create_admin(session)
    await _add(session, "what-is-deforum", 1)
    await session.commit()
    _miss_first_slug_lookup(monkeypatch)

    response = await client.post(
        "/api/administration/questions",
        json={"question": "What is Deforum?", "answer": "An animation method."},
        headers=auth_headers(settings, admin),
    )

    assert response.status_code == 201
    assert response.json()["data"]["slug"] == "what-is-deforum-2"


async def test_racing_explicit_slug_is_422(
    client: httpx.AsyncClient,
    session: AsyncSession,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    admin = await create_admin(session)
    await _add(session, "taken", 1)
    await session.commit()
    _miss_first_slug_lookup(monkeypatch)

    response = await client.post(
        "/api/administration/questions",
        json={"question": "Q?", "answer": "A.", "slug": "taken"},
        headers=auth_headers(settings, admin),
    )

    assert response.status_code == 422
    assert list(response.json()["error"]["validator"]) == ["slug"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/api/administration/questions"),
        ("PUT", "/api/administration/questions/1"),
        ("DELETE", "/api/administration/questions/1"),
    ],
)
async def test_faq_management_needs_admin(
    client: httpx.AsyncClient,
    session: AsyncSession,
    settings: Settings,
    method: str,
    path: str,
) -> None:
    user = await create_user(session)
    await session.commit()
    body = {"question": "Q?", "answer": "A."}

    anonymous = await client.request(method, path, json=body)
    as_user = await client.request(
        method, path, json=body, headers=auth_headers(settings, user)
    )

    assert anonymous.status_code == 401
    assert as_user.status_code == 403


async def test_unknown_question_id_is_404_for_admin(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    admin = await create_admin(session)
    await session.commit()
    headers = auth_headers(settings, admin)

    updated = await client.put(
        "/api/administration/questions/999", json={"answer": "x"}, headers=headers
    )
    deleted = await client.delete("/api/administration/questions/999", headers=headers)

    assert updated.status_code == 404
    assert deleted.status_code == 404


@pytest.mark.parametrize(
    ("text", "slug"),
    [
        ("How do previews work?", "how-do-previews-work"),
        ("Qu'est-ce qu'un crédit ?", "qu-est-ce-qu-un-credit"),
        ("???", "question"),
    ],
)
def test_slugify(text: str, slug: str) -> None:
    assert slugify(text) == slug
