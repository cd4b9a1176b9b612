from __future__ import annotations

import hashlib
import unicodedata
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from mage_studio.core.db import Base, TimestampMixin, UtcDateTime


class Role(StrEnum):
    USER = "user"
    ADMIN = "admin"
    SELLER = "seller"


def login_key(login: str) -> str:
    """Return the key under which logins are unique: SHA-256 of the NFKC case fold.

    `Painter` and `painter`, or full-width `Ｌｏｇｉｎ` and `Login`, share a key. The
    key is a fixed-length hash because NFKC can make a 255-character login longer.
    """
    folded = unicodedata.normalize("NFKC", login).casefold()
    return hashlib.sha256(unicodedata.normalize("NFKC", folded).encode()).hexdigest()


class User(TimestampMixin, Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Stored lower-cased, which makes the unique index case-insensitive.
    email: Mapped[str] = mapped_column(String(320), unique=True)
    # Stored as typed. `login_key` follows every change of `login`, and its unique
    # index stops logins that differ only in case or Unicode compatibility form.
    login: Mapped[str] = mapped_column(String(255), unique=True)
    login_key: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(255), default=None)
    profile_image: Mapped[str | None] = mapped_column(String(1024), default=None)
    online: Mapped[bool] = mapped_column(Boolean, default=False)
    confirm_send_email: Mapped[bool] = mapped_column(Boolean, default=True)
    email_verified_at: Mapped[datetime | None] = mapped_column(
        UtcDateTime, default=None
    )
    password_reset_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    license_accepted: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    priority_tier: Mapped[int] = mapped_column(Integer, default=0)
    # Tokens issued in an earlier second than this are rejected (the CLI sets it).
    # The check has whole-second precision, so revoking sessions uses the exact
    # `token_version` instead.
    tokens_valid_after: Mapped[datetime | None] = mapped_column(
        UtcDateTime, default=None
    )
    # Access and refresh tokens carry the version they were issued under; revoking
    # every session increments it. Tokens of `surviving_token_family` issued under
    # the previous version stay valid (the session that changed the password).
    token_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    surviving_token_family: Mapped[str | None] = mapped_column(String(32), default=None)
    # Incremented on every password change; reset tokens of older versions are dead.
    password_version: Mapped[int] = mapped_column(
        Integer, default=0, server_default="0"
    )

    role_rows: Mapped[list[UserRole]] = relationship(
        back_populates="user",
        lazy="selectin",
        cascade="all, delete-orphan",
        order_by="UserRole.role",
    )

    @validates("login")
    def _set_login_key(self, _: str, login: str) -> str:
        self.login_key = login_key(login)
        return login

    @property
    def roles(self) -> list[str]:
        return [row.role for row in self.role_rows] or [Role.USER.value]

    def has_role(self, role: Role | str) -> bool:
        return str(role) in self.roles

    @property
    def is_admin(self) -> bool:
        return self.has_role(Role.ADMIN)

    def set_roles(self, roles: list[str]) -> None:
        wanted = sorted(set(roles) | {Role.USER.value})
        self.role_rows = [row for row in self.role_rows if row.role in wanted] + [
            UserRole(role=role)
            for role in wanted
            if role not in {row.role for row in self.role_rows}
        ]


class UserRole(Base):
    __tablename__ = "user_roles"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[str] = mapped_column(String(32), primary_key=True)

    user: Mapped[User] = relationship(back_populates="role_rows")
