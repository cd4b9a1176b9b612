"""The audit log: an append-only record of administrative changes.

Services record each change an admin makes (a finance operation status, an order
status, a user's data) with `record_audit` in the same transaction as the change, so
the entry exists exactly when the change does. Rows are never updated or deleted:
the ORM raises `ImmutableRecordError` on any attempt through a session.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import JSON, Index, Integer, String, event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, Mapper, mapped_column

from mage_studio.core.db import Base, UtcDateTime, utcnow
from mage_studio.users.models import User

log = structlog.get_logger(__name__)


class ImmutableRecordError(RuntimeError):
    """Raised when code tries to update or delete an append-only record."""


class AuditEntry(Base):
    """One administrative change: who did what to which object, before and after."""

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_target", "target_type", "target_id"),
        Index("ix_audit_log_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # No foreign key: an entry outlives the account of the admin who made it.
    actor_id: Mapped[int | None] = mapped_column(Integer, index=True)
    action: Mapped[str] = mapped_column(String(64))
    target_type: Mapped[str] = mapped_column(String(64))
    target_id: Mapped[str] = mapped_column(String(64))
    old_values: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    new_values: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


def forbid_changes(model: type[Base]) -> None:
    """Make the ORM raise `ImmutableRecordError` on updates and deletes of `model`.

    Bulk `update()`/`delete()` statements bypass mapper events, so code that owns an
    append-only table must not issue them.
    """

    def reject(_: Mapper[Any], __: Any, target: Any) -> None:
        raise ImmutableRecordError(
            f"{type(target).__name__} rows are append-only and cannot be changed"
        )

    event.listen(model, "before_update", reject)
    event.listen(model, "before_delete", reject)


forbid_changes(AuditEntry)


def _json_values(values: dict[str, Any] | None) -> dict[str, Any] | None:
    if values is None:
        return None
    # Datetimes, enums and decimals become strings so any dialect can store them.
    loaded: dict[str, Any] = json.loads(json.dumps(values, default=str))
    return loaded


async def record_audit(
    session: AsyncSession,
    actor: User | int | None,
    action: str,
    target_type: str,
    target_id: int | str,
    old: dict[str, Any] | None,
    new: dict[str, Any] | None,
) -> AuditEntry:
    """Add an audit entry to the session's transaction and flush it.

    `actor` is the acting user (or its id); None means the system itself. `old` and
    `new` hold only the fields that changed; values that JSON cannot store are saved as
    strings.
    """
    actor_id = actor.id if isinstance(actor, User) else actor
    entry = AuditEntry(
        actor_id=actor_id,
        action=action,
        target_type=target_type,
        target_id=str(target_id),
        old_values=_json_values(old),
        new_values=_json_values(new),
    )
    session.add(entry)
    await session.flush()
    log.info(
        "audit_recorded",
        actor_id=actor_id,
        action=action,
        target_type=target_type,
        target_id=str(target_id),
    )
    return entry
