"""The append-only audit log."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from mage_studio.core.audit import AuditEntry, ImmutableRecordError, record_audit
from tests.factories import create_admin


async def test_record_audit_stores_change(session: AsyncSession) -> None:
    admin = await create_admin(session)
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)

    await record_audit(
        session, admin, "user.updated", "user", 42, {"email": "a@x.io"}, {"at": when}
    )
    await session.commit()

    entry = await session.scalar(select(AuditEntry))
    assert entry is not None
    assert entry.actor_id == admin.id
    assert entry.action == "user.updated"
    assert entry.target_type == "user"
    assert entry.target_id == "42"
    assert entry.old_values == {"email": "a@x.io"}
    assert entry.new_values == {"at": "2026-01-02 03:04:05+00:00"}
    assert entry.created_at.tzinfo is not None


async def test_system_actor_is_null(session: AsyncSession) -> None:
    entry = await record_audit(
        session, None, "ledger.checked", "ledger", "all", None, None
    )
    assert entry.actor_id is None


async def test_audit_entries_cannot_change(session: AsyncSession) -> None:
    entry = await record_audit(session, None, "x.changed", "x", 1, None, {"a": 1})
    await session.commit()

    entry.action = "x.forged"
    with pytest.raises(ImmutableRecordError):
        await session.flush()
    await session.rollback()

    await session.delete(entry)
    with pytest.raises(ImmutableRecordError):
        await session.flush()
