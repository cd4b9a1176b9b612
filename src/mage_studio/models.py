"""Every ORM model, imported so the metadata is complete (Alembic, tests, shell)."""

import mage_studio.core.audit  # noqa: F401  (shared audit table)
from mage_studio.core.db import Base
from mage_studio.domains import domain_modules

metadata = Base.metadata
_modules = domain_modules("models")

# The model classes by name, for `mage-studio shell`.
registry = {mapper.class_.__name__: mapper.class_ for mapper in Base.registry.mappers}

__all__ = ["Base", "metadata", "registry"]
