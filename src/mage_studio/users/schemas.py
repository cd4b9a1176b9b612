"""User schemas: the public User shape and the profile update."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, BeforeValidator, EmailStr, Field

from mage_studio.users.models import Role


def strip_or_none(value: object) -> object:
    """Trim strings; an empty string means the field is absent."""
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


def reject_nul(value: str) -> str:
    """Reject NUL characters, which PostgreSQL cannot store in text."""
    if "\x00" in value:
        raise ValueError("Must not contain NUL characters.")
    return value


NoNul = AfterValidator(reject_nul)


def normalize_email(value: object) -> object:
    """Trim and lower-case an email so that uniqueness is case-insensitive."""
    if isinstance(value, str):
        return value.strip().lower()
    return value


def normalize_optional_email(value: object) -> object:
    return normalize_email(strip_or_none(value))


Email = Annotated[EmailStr, Field(max_length=320), BeforeValidator(normalize_email)]
OptionalEmail = Annotated[
    Annotated[EmailStr, Field(max_length=320)] | None,
    BeforeValidator(normalize_optional_email),
]
LoginName = Annotated[str, Field(min_length=1, max_length=255), NoNul]
OptionalLogin = Annotated[LoginName | None, BeforeValidator(strip_or_none)]


class UserRead(BaseModel):
    """An account as clients see it; never a hash or a token."""

    id: int
    email: str
    login: str
    profile_image: str | None
    online: bool
    confirmSendEmail: bool
    balance: int = Field(description="Money balance in minor units of the currency.")
    credits: int = Field(description="GPU credits.")
    roles: list[Role]
    emailVerified: bool
    passwordResetAdmin: bool = Field(
        description="An administrator sent a password reset that is still pending."
    )
    google_id: str | None = Field(description="Linked Google account id.")
    discord_id: str | None = Field(description="Linked Discord account id.")
    createdAt: datetime


class ProfileUpdate(BaseModel):
    """Fields a user may change on their own account; others are ignored."""

    login: OptionalLogin = None
    email: OptionalEmail = Field(
        default=None,
        description="A new address must be verified again; a mail is sent to it.",
    )
    confirmSendEmail: bool | None = Field(
        default=None, description="Whether the user accepts notification mail."
    )
