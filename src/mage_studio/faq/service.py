"""Reading and managing the FAQ; every change by an administrator is audited."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from mage_studio.core.audit import record_audit
from mage_studio.errors import NotFound, ValidationFailed
from mage_studio.faq.models import FaqQuestion
from mage_studio.faq.schemas import QuestionCreate, QuestionRead, QuestionUpdate
from mage_studio.users.models import User

log = structlog.get_logger(__name__)

SLUG_MAX_LENGTH = 120
# Maximum inserts, each with a newly numbered slug, when concurrent requests take
# the same slugs.
# NOTE: more simultaneous creations of one question than this can still end in 409.
SLUG_INSERT_ATTEMPTS = 5
SLUG_TAKEN = "This slug is already used."
_AUDITED_FIELDS = ("slug", "question", "answer", "position")


class QuestionNotFound(NotFound):
    message = "The question was not found."


def present(question: FaqQuestion) -> QuestionRead:
    return QuestionRead(
        id=question.id,
        slug=question.slug,
        question=question.question,
        answer=question.answer,
        position=question.position,
        createdAt=question.created_at,
        updatedAt=question.updated_at,
    )


def slugify(text: str) -> str:
    """Turn a question into lower-case ASCII words joined by hyphens."""
    ascii_text = (
        unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    )
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[: SLUG_MAX_LENGTH - 8].strip("-") or "question"


async def list_questions(session: AsyncSession) -> Sequence[FaqQuestion]:
    statement = select(FaqQuestion).order_by(FaqQuestion.position, FaqQuestion.id)
    return (await session.scalars(statement)).all()


async def question_by_slug(session: AsyncSession, slug: str) -> FaqQuestion:
    # PostgreSQL rejects NUL in text parameters, and no stored slug contains one.
    if "\x00" in slug:
        raise QuestionNotFound()
    question = await session.scalar(select(FaqQuestion).where(FaqQuestion.slug == slug))
    if question is None:
        raise QuestionNotFound()
    return question


async def _slug_taken(session: AsyncSession, slug: str, except_id: int | None) -> bool:
    statement = select(FaqQuestion.id).where(FaqQuestion.slug == slug)
    if except_id is not None:
        statement = statement.where(FaqQuestion.id != except_id)
    return await session.scalar(statement) is not None


async def _free_slug(session: AsyncSession, base: str) -> str:
    """Return `base`, or `base-2`, `base-3`, ... when it is taken."""
    slug, number = base, 1
    while await _slug_taken(session, slug, None):
        number += 1
        slug = f"{base}-{number}"
    return slug


def _values(question: FaqQuestion) -> dict[str, Any]:
    return {field: getattr(question, field) for field in _AUDITED_FIELDS}


async def create_question(
    session: AsyncSession, admin: User, payload: QuestionCreate
) -> FaqQuestion:
    """Add a question; a slug given explicitly must be free (422 otherwise)."""
    if payload.slug is not None:
        if await _slug_taken(session, payload.slug, None):
            raise ValidationFailed.field("slug", SLUG_TAKEN)
        slug = payload.slug
    else:
        slug = await _free_slug(session, slugify(payload.question))

    for attempt in range(1, SLUG_INSERT_ATTEMPTS + 1):
        question = FaqQuestion(
            slug=slug,
            question=payload.question,
            answer=payload.answer,
            position=payload.position,
        )
        try:
            async with session.begin_nested():
                session.add(question)
                await session.flush()
            break
        except IntegrityError as exc:
            # A concurrent request stored the same slug after the lookup above.
            if payload.slug is not None:
                raise ValidationFailed.field("slug", SLUG_TAKEN) from exc
            if attempt == SLUG_INSERT_ATTEMPTS:
                raise
            slug = await _free_slug(session, slugify(payload.question))
    await record_audit(
        session,
        admin,
        "faq_question.create",
        "faq_question",
        question.id,
        None,
        _values(question),
    )
    return question


async def update_question(
    session: AsyncSession, admin: User, question_id: int, payload: QuestionUpdate
) -> FaqQuestion:
    """Change the given fields of a question."""
    question = await session.get(FaqQuestion, question_id)
    if question is None:
        raise QuestionNotFound()
    if payload.slug is not None and await _slug_taken(
        session, payload.slug, question.id
    ):
        raise ValidationFailed.field("slug", SLUG_TAKEN)

    before = _values(question)
    for field, value in payload.model_dump(exclude_none=True).items():
        setattr(question, field, value)
    after = _values(question)
    changed = [field for field in _AUDITED_FIELDS if before[field] != after[field]]
    if changed:
        await session.flush()
        await record_audit(
            session,
            admin,
            "faq_question.update",
            "faq_question",
            question.id,
            {field: before[field] for field in changed},
            {field: after[field] for field in changed},
        )
    return question


async def delete_question(session: AsyncSession, admin: User, question_id: int) -> None:
    question = await session.get(FaqQuestion, question_id)
    if question is None:
        raise QuestionNotFound()
    old = _values(question)
    await session.delete(question)
    await session.flush()
    await record_audit(
        session, admin, "faq_question.delete", "faq_question", question_id, old, None
    )
