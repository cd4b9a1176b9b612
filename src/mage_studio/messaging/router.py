"""Chats, messages and the moderation switch for messages."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request

from mage_studio.auth.deps import AdminUser, AppSettings, CurrentUser
from mage_studio.core.routing import DbRoute, DbSession
from mage_studio.core.schemas import MAX_ROW_ID, Envelope
from mage_studio.messaging import service
from mage_studio.messaging.notifications import Mailer
from mage_studio.messaging.schemas import (
    AdminMessageRead,
    ChatCreate,
    ChatRead,
    MessageCreate,
    MessageHiddenUpdate,
    MessagePage,
    MessageRead,
    NoChat,
    ReadMark,
    ReadState,
)

router = APIRouter(route_class=DbRoute, tags=["chats"])

PathId = Annotated[int, Path(ge=1, le=MAX_ROW_ID)]


def get_mailer(request: Request) -> Mailer | None:
    """Return the application's mail service, or None when none is installed."""
    mailer: Mailer | None = getattr(request.app.state, "mail", None)
    return mailer


MailerDep = Annotated[Mailer | None, Depends(get_mailer)]


@router.post("/api/chats", status_code=201, response_model=Envelope[ChatRead])
async def create_chat(
    payload: ChatCreate, user: CurrentUser, session: DbSession
) -> Envelope[ChatRead]:
    """Start a chat with another user.

    There is one chat per pair of users in either direction, so a second one is
    rejected with 400 and code 1003. A chat with oneself is rejected with 422.
    """
    chat = await service.create_chat(session, user, payload.recipientUserId)
    return Envelope(data=await service.chat_view(session, user, chat))


@router.get(
    "/api/chats/get-chats-by-current-user", response_model=Envelope[list[ChatRead]]
)
async def list_chats(user: CurrentUser, session: DbSession) -> Envelope[list[ChatRead]]:
    """List the caller's chats, most recently active first, with unread counts."""
    return Envelope(data=await service.list_chats(session, user))


@router.get(
    "/api/chats/get-chat-by-user-id/{user_id}",
    response_model=Envelope[ChatRead | NoChat],
)
async def get_chat_by_user(
    user_id: PathId, user: CurrentUser, session: DbSession
) -> Envelope[ChatRead | NoChat]:
    """Return the caller's chat with a user, or `{"id": null, "recipientUser": null}`.

    An unknown user gets the same empty response as a user without a chat, so the
    route does not reveal which user ids exist.
    """
    chat = await service.chat_with_user(session, user, user_id)
    return Envelope(data=chat if chat is not None else NoChat())


@router.get("/api/chats/{chat_id}", response_model=Envelope[ChatRead])
async def get_chat(
    chat_id: PathId, user: CurrentUser, session: DbSession
) -> Envelope[ChatRead]:
    """Return one of the caller's chats; other chats are 404."""
    chat = await service.member_chat(session, user, chat_id)
    return Envelope(data=await service.chat_view(session, user, chat))


@router.post("/api/chats/{chat_id}/read", response_model=Envelope[ReadState])
async def mark_chat_read(
    chat_id: PathId, payload: ReadMark, user: CurrentUser, session: DbSession
) -> Envelope[ReadState]:
    """Mark the chat read up to and including `messageId`.

    The message must belong to the chat (422 otherwise). A mark older than the
    current one is ignored, so the last-read position only moves forward.
    """
    state = await service.mark_read(session, user, chat_id, payload.messageId)
    return Envelope(data=state)


@router.get(
    "/api/messages/get-messages-by-chat-id/{chat_id}", response_model=MessagePage
)
async def list_messages(
    chat_id: PathId,
    user: CurrentUser,
    session: DbSession,
    settings: AppSettings,
    cursor: Annotated[
        str | None,
        Query(description="`meta.next_cursor` of the previous page."),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> MessagePage:
    """Page through a chat's messages, newest first.

    Pages are keyed by an opaque, signed cursor, so messages arriving between two
    requests neither repeat nor skip older ones. An altered or foreign cursor is 400.
    """
    return await service.list_messages(
        session, user, chat_id, cursor=cursor, limit=limit, secret=settings.jwt_secret
    )


@router.post("/api/messages", status_code=201, response_model=Envelope[MessageRead])
async def post_message(
    payload: MessageCreate, user: CurrentUser, session: DbSession, mailer: MailerDep
) -> Envelope[MessageRead]:
    """Send a message (1–5000 characters after trimming) to one of the caller's chats.

    The other member gets an email for the first message they have not read yet,
    unless they turned notification mail off.
    """
    message = await service.post_message(
        session, user, payload.chatId, payload.message, mailer
    )
    return Envelope(data=message)


@router.patch(
    "/api/administration/messages/{message_id}/hidden",
    response_model=Envelope[AdminMessageRead],
    tags=["administration"],
)
async def set_message_hidden(
    message_id: PathId,
    payload: MessageHiddenUpdate,
    admin: AdminUser,
    session: DbSession,
) -> Envelope[AdminMessageRead]:
    """Hide a chat message for moderation, or show it again.

    Members keep seeing a hidden message in its place, with `hiddenStatus` true and
    an empty `message`. This response carries the stored text for the moderator.
    """
    message = await service.set_message_hidden(
        session, admin, message_id, payload.hidden
    )
    return Envelope(data=await service.moderation_view(session, message))
