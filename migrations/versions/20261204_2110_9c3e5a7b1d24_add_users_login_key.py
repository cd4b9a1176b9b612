"""add users login key

Revision ID: 9c3e5a7b1d24
Revises: 7b1e2c9d4f60
Create Date: 2026-12-04 21:10:00.000000+00:00
"""

import hashlib
import logging
import unicodedata
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "9c3e5a7b1d24"
down_revision: str | None = "7b1e2c9d4f60"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LOGIN_LENGTH = 255

log = logging.getLogger("alembic.runtime.migration")


def _login_key(login: str) -> str:
    # A copy of mage_studio.users.logins.login_key as of this revision, so later
    # changes to the application cannot change what this migration writes.
    folded = unicodedata.normalize("NFKC", login).casefold()
    return hashlib.sha256(unicodedata.normalize("NFKC", folded).encode()).hexdigest()


def _unique_logins(rows: Sequence[tuple[int, str]]) -> dict[int, tuple[str, str]]:
    """Return the new (login, key) of every user, oldest account first.

    The oldest account keeps its login. A later account whose login differs only in
    case or Unicode compatibility form gets `-<id>` appended (`-<id>-2`, `-<id>-3`
    and so on while that is taken too), cut to fit 255 characters.
    """
    logins = {login for _, login in rows}
    keys: set[str] = set()
    result: dict[int, tuple[str, str]] = {}
    for user_id, login in rows:
        candidate, key = login, _login_key(login)
        attempt = 0
        while key in keys:
            attempt += 1
            suffix = f"-{user_id}" if attempt == 1 else f"-{user_id}-{attempt}"
            candidate = login[: LOGIN_LENGTH - len(suffix)] + suffix
            if candidate not in logins:
                key = _login_key(candidate)
        keys.add(key)
        logins.add(candidate)
        result[user_id] = (candidate, key)
    return result


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("login_key", sa.String(length=64), nullable=True))

    connection = op.get_bind()
    users = sa.table(
        "users",
        sa.column("id", sa.Integer()),
        sa.column("login", sa.String()),
        sa.column("login_key", sa.String()),
    )
    rows = connection.execute(
        sa.select(users.c.id, users.c.login).order_by(users.c.id)
    ).all()
    old_logins = {row.id: row.login for row in rows}
    for user_id, (login, key) in _unique_logins(list(old_logins.items())).items():
        if login != old_logins[user_id]:
            log.warning(
                "Renamed the login of user %s from %r to %r: it differed from an "
                "older login only in case or Unicode form.",
                user_id,
                old_logins[user_id],
                login,
            )
        connection.execute(
            users.update()
            .where(users.c.id == user_id)
            .values(login=login, login_key=key)
        )

    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.alter_column(
            "login_key", existing_type=sa.String(length=64), nullable=False
        )
        batch_op.create_unique_constraint(
            batch_op.f("uq_users_login_key"), ["login_key"]
        )


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_users_login_key"), type_="unique")
        batch_op.drop_column("login_key")
