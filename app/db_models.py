"""Imports every table module so `SQLModel.metadata` is complete (Alembic and tests use this)."""

from app.audit import models as audit_models  # noqa: F401
from app.auth import models as auth_models  # noqa: F401
from app import idempotency  # noqa: F401
from app.db import metadata

__all__ = ["metadata"]
