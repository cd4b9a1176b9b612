"""The public FAQ and its management by administrators."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from mage_studio.auth.deps import AdminUser
from mage_studio.core.routing import DbRoute, DbSession
from mage_studio.core.schemas import Envelope
from mage_studio.faq import service
from mage_studio.faq.schemas import QuestionCreate, QuestionRead, QuestionUpdate

router = APIRouter(route_class=DbRoute, tags=["faq"])

QuestionId = Annotated[int, Path(ge=1, le=2_147_483_647)]


@router.get("/api/questions", response_model=Envelope[list[QuestionRead]])
async def list_questions(session: DbSession) -> Envelope[list[QuestionRead]]:
    """List every FAQ entry, ordered by position, then id."""
    questions = await service.list_questions(session)
    return Envelope(data=[service.present(question) for question in questions])


@router.get("/api/questions/{slug}", response_model=Envelope[QuestionRead])
async def get_question(
    slug: Annotated[str, Path(max_length=200)], session: DbSession
) -> Envelope[QuestionRead]:
    """Return one FAQ entry by its slug; an unknown slug is 404."""
    question = await service.question_by_slug(session, slug)
    return Envelope(data=service.present(question))


@router.post(
    "/api/administration/questions",
    status_code=201,
    response_model=Envelope[QuestionRead],
    tags=["administration"],
)
async def create_question(
    payload: QuestionCreate, admin: AdminUser, session: DbSession
) -> Envelope[QuestionRead]:
    """Add an FAQ entry. Without a slug, one is made from the question."""
    question = await service.create_question(session, admin, payload)
    return Envelope(data=service.present(question))


@router.put(
    "/api/administration/questions/{question_id}",
    response_model=Envelope[QuestionRead],
    tags=["administration"],
)
async def update_question(
    question_id: QuestionId,
    payload: QuestionUpdate,
    admin: AdminUser,
    session: DbSession,
) -> Envelope[QuestionRead]:
    """Change an FAQ entry; fields left out keep their value."""
    question = await service.update_question(session, admin, question_id, payload)
    return Envelope(data=service.present(question))


@router.delete(
    "/api/administration/questions/{question_id}",
    status_code=204,
    response_class=Response,
    tags=["administration"],
)
async def delete_question(
    question_id: QuestionId, admin: AdminUser, session: DbSession
) -> Response:
    """Delete an FAQ entry."""
    await service.delete_question(session, admin, question_id)
    return Response(status_code=204)
