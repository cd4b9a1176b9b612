"""The billing functions other domains call, in one place.

- Accounts: `open_user_accounts` (at registration, or whenever accounts may be
  missing), `user_balances` / `users_balances` (available amounts for `/me` and
  admin lists), `adjust_user_account` (admin corrections).
- Renders: `render_cost`, `reserve_render`, `capture_render`, `release_render`; see
  `mage_studio.billing.renders` for the protocol.
- Admin actions: `change_finance_operation_status`, `change_order_status`; both
  record their own audit entries.
- Checks: `check_ledger`.
"""

from mage_studio.billing.accounts import (
    adjust_user_account,
    open_user_accounts,
    user_balances,
    users_balances,
)
from mage_studio.billing.finance import change_finance_operation_status
from mage_studio.billing.ledger import LedgerCheck, check_ledger
from mage_studio.billing.orders import change_order_status
from mage_studio.billing.renders import (
    RenderSettlement,
    SettlementOutcome,
    capture_render,
    release_render,
    render_cost,
    reserve_render,
)

__all__ = [
    "LedgerCheck",
    "RenderSettlement",
    "SettlementOutcome",
    "adjust_user_account",
    "capture_render",
    "change_finance_operation_status",
    "change_order_status",
    "check_ledger",
    "open_user_accounts",
    "release_render",
    "render_cost",
    "reserve_render",
    "user_balances",
    "users_balances",
]
