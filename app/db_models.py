"""Imports every table module so `SQLModel.metadata` is complete (Alembic and tests use this)."""

from app import idempotency  # noqa: F401
from app.audit import models as audit_models  # noqa: F401
from app.auth import models as auth_models  # noqa: F401
from app.authorities import models as authorities_models  # noqa: F401
from app.db import metadata
from app.incidents import models as incidents_models  # noqa: F401  (also registers escalation)
from app.policy import models as policy_models  # noqa: F401
from app.protected_terms import models as protected_terms_models  # noqa: F401
from app.screening import models as screening_models  # noqa: F401

__all__ = ["metadata"]
