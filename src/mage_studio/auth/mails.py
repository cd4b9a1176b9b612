"""Links and texts of the account mails (email verification, password reset)."""

from __future__ import annotations

from urllib.parse import urlencode, urlsplit

from mage_studio.config import Settings
from mage_studio.errors import ValidationFailed

VERIFY_EMAIL_PATH = "/verify-email"
RESET_PASSWORD_PATH = "/reset-password"  # noqa: S105


def frontend_url(settings: Settings) -> str:
    """Return the front end that mailed links open: the first allowed origin."""
    if settings.frontend_origins:
        return settings.frontend_origins[0].rstrip("/")
    return settings.base_url


def _origin(url: str) -> str | None:
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        return None
    default_port = 443 if parts.scheme == "https" else 80
    port = parts.port or default_port
    return f"{parts.scheme}://{parts.hostname.lower()}:{port}"


def allowed_redirect(settings: Settings, redirect_url: str) -> str:
    """Return `redirect_url` when its origin is an allowed front end, else 422."""
    try:
        origin = _origin(redirect_url)
        allowed = {_origin(candidate) for candidate in settings.frontend_origins}
    except ValueError:
        origin = None
        allowed = set()
    if origin is None or origin not in allowed:
        raise ValidationFailed.field(
            "redirect_url", "The redirect URL is not an allowed front-end address."
        )
    return redirect_url


def _with_query(url: str, params: dict[str, str]) -> str:
    separator = "&" if urlsplit(url).query else "?"
    return f"{url.split('#', 1)[0]}{separator}{urlencode(params)}"


def verification_mail(
    settings: Settings, user_id: int, token: str, hours: int
) -> tuple[str, str]:
    """Return (subject, text) of the mail that verifies an address."""
    link = _with_query(
        frontend_url(settings) + VERIFY_EMAIL_PATH, {"id": str(user_id), "hash": token}
    )
    text = (
        "Welcome to Mage Studio.\n\n"
        f"Confirm your email address by opening this link:\n{link}\n\n"
        f"The link is valid for {hours} hours. If you did not create an account "
        "or change your address, ignore this mail."
    )
    return "Verify your email address", text


def reset_mail(
    settings: Settings,
    email: str,
    token: str,
    redirect_url: str | None,
    *,
    minutes: int,
    by_admin: bool,
) -> tuple[str, str]:
    """Return (subject, text) of the mail that carries a password reset token."""
    page = redirect_url or frontend_url(settings) + RESET_PASSWORD_PATH
    link = _with_query(page, {"token": token, "email": email})
    if by_admin:
        reason = "An administrator asked for your Mage Studio password to be reset."
        closing = "Until you choose a new one, your current password keeps working."
    else:
        reason = "Someone, hopefully you, asked to reset your Mage Studio password."
        closing = "If you did not ask for it, ignore this mail: nothing changes."
    text = (
        f"{reason}\n\nChoose a new password here:\n{link}\n\n"
        f"The link works once and expires in {minutes} minutes. {closing}"
    )
    return "Reset your password", text
