"""Request and response bodies of the account and auth endpoints."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, Field, model_validator

from mage_studio.auth.passwords import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH
from mage_studio.errors import ValidationFailed
from mage_studio.users.schemas import Email, NoNul, OptionalLogin, strip_or_none

# Passwords are never trimmed: spaces at either end are part of them.
NewPassword = Annotated[
    str, Field(min_length=MIN_PASSWORD_LENGTH, max_length=MAX_PASSWORD_LENGTH)
]
AnyPassword = Annotated[str, Field(min_length=1, max_length=MAX_PASSWORD_LENGTH)]
Token = Annotated[str, Field(min_length=1, max_length=4096)]
# Emails compared with stored ones but not validated as addresses: any mismatch
# fails the same way as an unknown address.
AnyEmail = Annotated[str, Field(min_length=1, max_length=320), NoNul]
OptionalToken = Annotated[Token | None, BeforeValidator(strip_or_none)]
PASSWORD_MISMATCH = "The password confirmation does not match."  # noqa: S105


def _confirm(field: str, password: str, confirmation: str) -> None:
    if password != confirmation:
        raise ValidationFailed.field(field, PASSWORD_MISMATCH)


class RegisterRequest(BaseModel):
    email: Email
    password: NewPassword
    password_confirmation: AnyPassword
    login: OptionalLogin = Field(default=None, description="Default: the email.")
    license: bool | None = Field(
        default=None, description="Whether the user accepted the license terms."
    )

    def check_confirmation(self) -> None:
        _confirm("password_confirmation", self.password, self.password_confirmation)


class CreatedId(BaseModel):
    id: int


class VerifyEmailRequest(BaseModel):
    id: int = Field(ge=1, le=2**31 - 1)
    hash: Token = Field(description="The signed token from the verification mail.")


class LoginRequest(BaseModel):
    email: AnyEmail
    password: AnyPassword


class LoginPayload(BaseModel):
    """The tokens of a session."""

    accessToken: str
    tokenType: Literal["bearer"] = "bearer"
    expiresIn: int = Field(description="Seconds until the access token expires.")
    refreshToken: str = Field(description="Single-use; each refresh returns a new one.")


class RefreshRequest(BaseModel):
    refreshToken: Token


class ChangePasswordRequest(BaseModel):
    currentPassword: AnyPassword
    newPassword: NewPassword
    confirmNewPassword: AnyPassword

    def check_confirmation(self) -> None:
        _confirm("confirmNewPassword", self.newPassword, self.confirmNewPassword)


class ForgotPasswordRequest(BaseModel):
    email: AnyEmail
    redirect_url: OptionalToken = Field(
        default=None,
        description="Page of the front end that receives the token; its origin must "
        "be one of the configured front-end origins.",
    )


class ResetPasswordRequest(BaseModel):
    email: AnyEmail
    token: Token
    password: NewPassword
    password_confirmation: AnyPassword

    def check_confirmation(self) -> None:
        _confirm("password_confirmation", self.password, self.password_confirmation)


class SocialTokenRequest(BaseModel):
    """A token from a provider's mobile or web SDK: exactly one of the two."""

    id_token: OptionalToken = None
    access_token: OptionalToken = None
    nonce: OptionalToken = Field(
        default=None, description="The nonce the client put into the ID token request."
    )

    @model_validator(mode="after")
    def _one_token(self) -> SocialTokenRequest:
        if (self.id_token is None) == (self.access_token is None):
            raise ValueError("Send either id_token or access_token.")
        return self


class AuthorizationUrl(BaseModel):
    url: str
