"""Errors of the billing services, with their HTTP statuses and domain codes."""

from __future__ import annotations

from mage_studio.errors import (
    AppError,
    Conflict,
    NotFound,
    PaymentRequired,
    ValidationFailed,
)


class InsufficientCredits(PaymentRequired):
    """The available credits do not cover the amount (402, code 1011)."""

    code = 1011
    message = "Insufficient credits."


class InsufficientBalance(PaymentRequired):
    """The available money balance does not cover the amount (402, code 1012)."""

    code = 1012
    message = "Insufficient balance."


class InvalidAmount(ValidationFailed):
    """An amount that is not a positive integer within the signed 64-bit range."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__({field: [message]})


class BalanceOverflow(Conflict):
    """A transfer that would take an account beyond the largest storable amount."""

    message = (
        "The operation would take an account balance beyond 9223372036854775807, "
        "the largest amount the ledger stores."
    )


class TransferConflict(Conflict):
    """A transfer id was reused for different entries."""

    message = "This transfer id was already used for a different transfer."


class HoldConflict(Conflict):
    """A hold key was reused for a different amount or account."""

    message = "This hold already exists with a different amount."


class WalletNotFound(NotFound):
    """Unknown wallet, or one of another user (404, code 1006)."""

    code = 1006
    message = "The wallet was not found."


class OrderNotFound(NotFound):
    """Unknown order, or one the caller is not part of (404, code 1009)."""

    code = 1009
    message = "The order was not found."


class QuantityOverLimit(AppError):
    """More items ordered than the product has available (400, code 1010)."""

    status_code = 400
    code = 1010
    message = "The quantity exceeds the available stock."
