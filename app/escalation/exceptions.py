"""Errors of the escalation domain."""

from __future__ import annotations

from app.errors import Conflict, NotFound, PreconditionFailed


class CaseNotFound(NotFound):
    """The subject has no recorded incident, so no case."""


class AppealNotFound(NotFound):
    """No appeal with this id was lodged on this case."""


class StepNotAllowed(Conflict):
    """The ladder does not allow the action now (the `code` member says which rule)."""

    slug = "step-not-allowed"


class StaleVersion(PreconditionFailed):
    """The case moved on since the version the client sent in `If-Match`."""
