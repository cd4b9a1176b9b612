"""Fixtures of the queue tests: an owner of jobs and a worker token."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from mage_studio.queue import tokens
from mage_studio.users.models import User
from tests.factories import create_user


@dataclass(frozen=True)
class WorkerCredentials:
    id: int
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@pytest.fixture
async def owner(session: AsyncSession) -> User:
    user = await create_user(session)
    await session.commit()
    return user


@pytest.fixture
async def worker(session: AsyncSession) -> WorkerCredentials:
    issued = await tokens.create_token(session, "test-gpu")
    await session.commit()
    return WorkerCredentials(id=issued.record.id, token=issued.token)
