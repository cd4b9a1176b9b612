"""The audit log, read-only: no route changes or deletes its entries."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from mage_studio.admin import repository
from mage_studio.admin.schemas import AuditEntryRead, AuditFilters
from mage_studio.auth.deps import AdminUser
from mage_studio.billing import presenters
from mage_studio.core.routing import DbRoute, DbSession
from mage_studio.core.schemas import Page

router = APIRouter(route_class=DbRoute, tags=["administration: audit log"])


@router.get("/audit-log", response_model=Page[AuditEntryRead])
async def list_audit_log(
    filters: Annotated[AuditFilters, Query()], _: AdminUser, session: DbSession
) -> Page[AuditEntryRead]:
    """List administrative changes, newest first: who (`actor`), what (`action`),
    to which object (`targetType`, `targetId`), the old and new values, and when.

    Filters: `actor` (user id), `action`, `target_type`, `target_id`, all exact.
    """
    rows, total = await repository.search_audit_log(session, filters)
    return Page(
        data=[
            AuditEntryRead(
                id=entry.id,
                actor_id=entry.actor_id,
                actor=presenters.user_brief(actor),
                action=entry.action,
                target_type=entry.target_type,
                target_id=entry.target_id,
                old_values=entry.old_values,
                new_values=entry.new_values,
                created_at=entry.created_at,
            )
            for entry, actor in rows
        ],
        meta=filters.page_params().meta(total),
    )
