"""Every ORM model, imported so the metadata is complete (Alembic, tests, shell)."""

from mage_studio.core.db import Base
from mage_studio.users.models import User, UserRole

metadata = Base.metadata

__all__ = ["Base", "User", "UserRole", "metadata"]
