"""Errors of the privacy domain."""

from __future__ import annotations

from app.errors import Conflict


class ErasureBlocked(Conflict):
    """The person's case is under appeal or at an open legal-letter step (the `code` says which)."""

    slug = "erasure-blocked"
