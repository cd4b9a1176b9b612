"""Social accounts: sign-in by provider user id, account creation, link and unlink.

An account is found only through its link (provider, provider user id). A provider
email that matches an existing account never signs into it: the owner signs in
and links the provider from their session instead.
"""

from __future__ import annotations

from datetime import timedelta

import structlog
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from mage_studio.auth import repository
from mage_studio.auth.models import SocialAccount
from mage_studio.auth.revocation import RevocationStore, state_key
from mage_studio.auth.service import send_verification_email
from mage_studio.auth.sessions import IssuedSession, start_session
from mage_studio.auth.social.providers import (
    STATE_TTL_SECONDS,
    InvalidState,
    Provider,
    pkce_verifier,
    read_state,
)
from mage_studio.auth.social.verify import (
    JwksCache,
    SocialIdentity,
    exchange_code,
    http_client,
    identity_from_access_token,
    verify_id_token,
)
from mage_studio.billing import service as billing
from mage_studio.config import Settings
from mage_studio.core.db import utcnow
from mage_studio.errors import Conflict, Forbidden, NotFound, ValidationFailed
from mage_studio.users import service as users
from mage_studio.users.models import Role, User

log = structlog.get_logger(__name__)

LOGIN_LENGTH = 255


async def identity_from_token(
    jwks: JwksCache,
    provider: Provider,
    *,
    id_token: str | None,
    access_token: str | None,
    nonce: str | None,
) -> SocialIdentity:
    """Verify a token from the provider's SDK and return its user."""
    async with http_client() as http:
        if id_token is not None:
            return await verify_id_token(http, jwks, provider, id_token, nonce)
        assert access_token is not None
        return await identity_from_access_token(http, provider, access_token)


async def spend_state(
    session: AsyncSession,
    settings: Settings,
    store: RevocationStore,
    provider: Provider,
    state: str,
) -> str:
    """Check the state (signed, unexpired, unused), record it as used, return its nonce.

    The record outlives the state, so a state is accepted at most once. With the
    database store it is written in the caller's transaction, which must commit
    before the code exchange for the record to survive a failed exchange.
    """
    nonce = read_state(settings, provider, state)
    expires = utcnow() + timedelta(seconds=STATE_TTL_SECONDS)
    if not await store.add(session, state_key(nonce), expires):
        raise InvalidState()
    return nonce


async def identity_from_code(
    settings: Settings, jwks: JwksCache, provider: Provider, code: str, nonce: str
) -> SocialIdentity:
    """Exchange the callback's code for the provider's user (nonce from the state)."""
    verifier = pkce_verifier(settings, nonce) if provider.pkce else None
    async with http_client() as http:
        return await exchange_code(http, jwks, provider, code, nonce, verifier)


async def sign_in(
    session: AsyncSession, settings: Settings, identity: SocialIdentity
) -> IssuedSession:
    """Start a session for the account linked to `identity`, creating one if new."""
    link = await repository.social_account(session, identity.provider, identity.subject)
    if link is not None:
        user = await session.get(User, link.user_id)
        if user is None or not user.active:
            raise Forbidden("This account has been disabled.")
        log.info("social_sign_in", provider=identity.provider, user_id=user.id)
        return await start_session(session, settings, user)

    user = await _create_user(session, settings, identity)
    log.info("social_sign_up", provider=identity.provider, user_id=user.id)
    return await start_session(session, settings, user)


async def _create_user(
    session: AsyncSession, settings: Settings, identity: SocialIdentity
) -> User:
    provider = identity.provider
    if identity.email is None:
        raise ValidationFailed.field(
            "email",
            f"Your {provider} account shares no email address. Register with your "
            f"email, then link {provider} from your profile.",
        )
    if await users.find_by_email(session, identity.email) is not None:
        raise Conflict(
            f"An account with this email already exists. Sign in with your password "
            f"and link {provider} from your profile."
        )
    login = identity.email
    if await users.find_by_login(session, login) is not None:
        login = f"{provider}-{identity.subject}"[:LOGIN_LENGTH]
    user = User(
        email=identity.email,
        login=login,
        email_verified_at=utcnow() if identity.email_verified else None,
    )
    user.set_roles([Role.USER.value])
    session.add(user)
    try:
        await session.flush()
        session.add(_link(user, identity))
        await session.flush()
    except IntegrityError as exc:
        raise Conflict("This account was created at the same moment. Sign in.") from exc
    await billing.open_user_accounts(session, user.id, settings)
    if user.email_verified_at is None:
        send_verification_email(session, settings, user)
    return user


def _link(user: User, identity: SocialIdentity) -> SocialAccount:
    return SocialAccount(
        user_id=user.id,
        provider=identity.provider,
        provider_user_id=identity.subject,
        email=identity.email,
    )


async def link(session: AsyncSession, user: User, identity: SocialIdentity) -> None:
    """Link the provider account to `user`; 409 when it belongs to someone else."""
    existing = await repository.social_account(
        session, identity.provider, identity.subject
    )
    if existing is not None and existing.user_id == user.id:
        return
    if existing is not None:
        raise Conflict(f"This {identity.provider} account is linked to another user.")
    if await repository.social_account_of_user(session, user.id, identity.provider):
        raise Conflict(
            f"Your account is already linked to a {identity.provider} account. "
            "Unlink it first."
        )
    session.add(_link(user, identity))
    try:
        await session.flush()
    except IntegrityError as exc:
        raise Conflict(f"This {identity.provider} account is already linked.") from exc
    log.info("social_linked", provider=identity.provider, user_id=user.id)


async def unlink(session: AsyncSession, user: User, provider: str) -> None:
    """Remove the link; keep at least one way to sign in."""
    account = await repository.social_account_of_user(session, user.id, provider)
    if account is None:
        raise NotFound(f"No {provider} account is linked.")
    only_way_in = user.password_hash is None and (
        await repository.count_social_accounts(session, user.id) <= 1
    )
    if only_way_in:
        raise Conflict(
            "Set a password (forgot password) before unlinking your only "
            "sign-in method."
        )
    await session.delete(account)
    await session.flush()
    log.info("social_unlinked", provider=provider, user_id=user.id)
