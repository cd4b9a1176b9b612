from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from mage_studio.core.schemas import RowId
from mage_studio.users.models import User
from mage_studio.users.schemas import NoNul

MESSAGE_MAX_LENGTH = 5000

MessageText = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=MESSAGE_MAX_LENGTH
    ),
    NoNul,
]


class PublicUser(BaseModel):
    """The fields of a user that other users may see (no email address)."""

    id: int
    login: str
    profile_image: str | None
    online: bool

    @classmethod
    def of(cls, user: User) -> PublicUser:
        return cls(
            id=user.id,
            login=user.login,
            profile_image=user.profile_image,
            online=user.online,
        )


class MessageRead(BaseModel):
    """A chat message. A hidden message keeps its place with an empty text."""

    id: int
    message: str = Field(
        description="Plain text (never rendered as HTML); empty when hidden."
    )
    attachment: str | None = Field(
        default=None, description="Always null: chat messages carry text only."
    )
    authorUser: PublicUser
    hiddenStatus: bool = Field(description="True when an admin hid the message.")
    createdAt: datetime


class ChatRead(BaseModel):
    id: int
    recipientUser: PublicUser = Field(description="The other member of the chat.")
    lastMessage: MessageRead | None
    unreadCount: int = Field(ge=0, description="Messages from the other member.")


class NoChat(BaseModel):
    """The response when the two users have no chat yet."""

    id: None = None
    recipientUser: None = None


class ChatCreate(BaseModel):
    recipientUserId: RowId


class MessageCreate(BaseModel):
    chatId: RowId
    message: MessageText


class ReadMark(BaseModel):
    messageId: RowId


class ReadState(BaseModel):
    chatId: int
    lastReadMessageId: int | None
    unreadCount: int = Field(ge=0)


class CursorMeta(BaseModel):
    next_cursor: str | None = Field(
        description="Pass as `cursor` for older messages; null on the last page."
    )


class MessagePage(BaseModel):
    model_config = ConfigDict(title="MessagePage")

    data: list[MessageRead]
    meta: CursorMeta


class MessageHiddenUpdate(BaseModel):
    hidden: bool


class AdminMessageRead(MessageRead):
    """A message as moderators see it: the original text even when hidden."""

    chatId: int
