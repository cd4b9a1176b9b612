"""Admin registry of Stable Diffusion instances (raw JSON, admin role only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from sqlalchemy.ext.asyncio import AsyncSession

from mage_studio.auth.deps import AdminUser
from mage_studio.core.audit import record_audit
from mage_studio.core.routing import DbRoute, DbSession
from mage_studio.errors import Conflict, NotFound
from mage_studio.jobs import repository
from mage_studio.jobs.models import SdInstance
from mage_studio.jobs.params import MAX_ID
from mage_studio.jobs.schemas import (
    DeletedMessage,
    SdInstanceCreate,
    SdInstanceRead,
    SdInstanceUpdate,
)
from mage_studio.users.models import User

router = APIRouter(
    prefix="/api/administration/sd-instances",
    route_class=DbRoute,
    tags=["administration: sd instances"],
)

InstanceId = Annotated[int, Path(ge=1, le=MAX_ID)]


async def _get(session: AsyncSession, instance_id: int) -> SdInstance:
    instance = await session.get(SdInstance, instance_id)
    if instance is None:
        raise NotFound("SD instance not found.")
    return instance


async def _check_name_free(
    session: AsyncSession, name: str, instance_id: int | None = None
) -> None:
    for other in await repository.list_sd_instances(session):
        if other.name == name and other.id != instance_id:
            raise Conflict(f"An SD instance named '{name}' already exists.")


def _read(instance: SdInstance) -> SdInstanceRead:
    return SdInstanceRead.model_validate(instance)


@router.get("", response_model=list[SdInstanceRead])
async def list_instances(admin: AdminUser, session: DbSession) -> list[SdInstanceRead]:
    """List every registered SD WebUI/Forge or ComfyUI instance."""
    return [_read(row) for row in await repository.list_sd_instances(session)]


@router.post("", response_model=SdInstanceRead, status_code=201)
async def create_instance(
    body: SdInstanceCreate, admin: AdminUser, session: DbSession
) -> SdInstanceRead:
    """Register an instance; `url` must be http:// or https://."""
    await _check_name_free(session, body.name)
    instance = SdInstance(**body.model_dump())
    session.add(instance)
    await session.flush()
    await session.refresh(instance)
    await record_audit(
        session,
        admin,
        "sd_instance.created",
        "sd_instance",
        instance.id,
        None,
        _fields(instance),
    )
    return _read(instance)


@router.get("/{id}", response_model=SdInstanceRead)
async def get_instance(
    id: InstanceId, admin: AdminUser, session: DbSession
) -> SdInstanceRead:
    """Return one instance."""
    return _read(await _get(session, id))


def _fields(instance: SdInstance) -> dict[str, object]:
    return {
        "name": instance.name,
        "url": instance.url,
        "type": instance.type,
        "enabled": instance.enabled,
    }


async def _update(
    session: AsyncSession, admin: User, instance_id: int, changes: dict[str, object]
) -> SdInstanceRead:
    instance = await _get(session, instance_id)
    name = changes.get("name")
    if isinstance(name, str):
        await _check_name_free(session, name, instance_id)
    before = _fields(instance)
    for key, value in changes.items():
        setattr(instance, key, value)
    await session.flush()
    await session.refresh(instance)
    after = _fields(instance)
    changed = [key for key in after if after[key] != before[key]]
    if changed:
        await record_audit(
            session,
            admin,
            "sd_instance.updated",
            "sd_instance",
            instance.id,
            {key: before[key] for key in changed},
            {key: after[key] for key in changed},
        )
    return _read(instance)


@router.put("/{id}", response_model=SdInstanceRead)
async def replace_instance(
    id: InstanceId, body: SdInstanceCreate, admin: AdminUser, session: DbSession
) -> SdInstanceRead:
    """Replace every field of an instance."""
    return await _update(session, admin, id, body.model_dump())


@router.patch("/{id}", response_model=SdInstanceRead)
async def update_instance(
    id: InstanceId, body: SdInstanceUpdate, admin: AdminUser, session: DbSession
) -> SdInstanceRead:
    """Change the given fields of an instance."""
    return await _update(session, admin, id, body.model_dump(exclude_none=True))


@router.patch("/{id}/toggle", response_model=SdInstanceRead)
async def toggle_instance(
    id: InstanceId, admin: AdminUser, session: DbSession
) -> SdInstanceRead:
    """Enable a disabled instance or disable an enabled one."""
    instance = await _get(session, id)
    return await _update(session, admin, id, {"enabled": not instance.enabled})


@router.delete("/{id}", response_model=DeletedMessage)
async def delete_instance(
    id: InstanceId, admin: AdminUser, session: DbSession
) -> DeletedMessage:
    """Remove an instance from the registry."""
    instance = await _get(session, id)
    await record_audit(
        session,
        admin,
        "sd_instance.deleted",
        "sd_instance",
        instance.id,
        _fields(instance),
        None,
    )
    await session.delete(instance)
    await session.flush()
    return DeletedMessage(message="SD instance deleted successfully")
