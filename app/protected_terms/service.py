"""Registering and removing protected terms, and the counter that tells workers to rebuild."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy import update
from sqlmodel import Session, col, select

from app.audit import coverage
from app.audit import service as audit
from app.errors import Conflict, NotFound, Unprocessable
from app.pagination import keyset_page, split_page
from app.protected_terms.models import ProtectedTerm, ProtectedTermState
from app.protected_terms.schemas import ProtectedTermCreate
from app.screening.protected import normalize_term, term_digest


def _bump_version(session: Session) -> None:
    # Same transaction as the change: a worker that sees the new number also sees the new rows.
    session.exec(
        update(ProtectedTermState).where(col(ProtectedTermState.id) == 1).values(version=ProtectedTermState.version + 1)
    )


_STATE = ProtectedTermState.__table__  # type: ignore[attr-defined]
# Built once: this read runs on every screening, and a Core statement skips ORM compilation.
_READ_VERSION = sa.select(_STATE.c.version).where(_STATE.c.id == 1)
#: The counter as an SQL expression, for statements that must act only if it has not moved.
VERSION_NOW = sa.func.coalesce(_READ_VERSION.scalar_subquery(), 0)


def current_version(*, session: Session) -> int:
    """Return the protected-term change counter (one indexed single-row read)."""
    version = session.execute(_READ_VERSION).scalar()
    return int(version or 0)


def all_entries(*, session: Session) -> list[tuple[str, str]]:
    """Return every (digest, kind) pair, for building the matcher."""
    return [(d, k) for d, k in session.exec(select(ProtectedTerm.digest, ProtectedTerm.kind)).all()]


class Registry:
    """The registry as screening reads it (`app.screening.dependencies.TermSource`), injected at start-up."""

    version_now = VERSION_NOW

    def current_version(self, *, session: Session) -> int:
        """Return the change counter."""
        return current_version(session=session)

    def all_entries(self, *, session: Session) -> list[tuple[str, str]]:
        """Return every (digest, kind) pair."""
        return all_entries(session=session)


def create(*, session: Session, term_in: ProtectedTermCreate, key: bytes, actor: str) -> ProtectedTerm:
    """Hash and store a term; 409 when the same normalised value is already registered."""
    if not normalize_term(term_in.value):
        raise Unprocessable(
            "The value is empty once normalised.",
            errors=[{"field": "body.value", "message": "empty after normalisation", "type": "value_error"}],
        )
    digest = term_digest(term_in.value, key)
    existing = session.exec(select(ProtectedTerm).where(ProtectedTerm.digest == digest)).first()
    if existing is not None:
        raise Conflict("This term is already registered.", existing_id=str(existing.id))
    term = ProtectedTerm(kind=term_in.kind.value, digest=digest, created_by=actor)
    session.add(term)
    session.flush()
    _bump_version(session)
    audit.record(
        session,
        actor=actor,
        action="protected_term.created",
        target_type="protected_term",
        target_id=str(term.id),
        details={"kind": term.kind},
        covers=[("protected_term", term.id)],
    )
    return term


def list_terms(*, session: Session, cursor: str | None, limit: int) -> tuple[Sequence[ProtectedTerm], str | None]:
    """Return one page of terms, newest first."""
    stmt = keyset_page(
        select(ProtectedTerm), col(ProtectedTerm.created_at), col(ProtectedTerm.id), cursor=cursor, limit=limit
    )
    return split_page(list(session.exec(stmt).all()), limit)


def get(*, session: Session, term_id: uuid.UUID) -> ProtectedTerm:
    """Return one term; 404 when unknown."""
    term = session.get(ProtectedTerm, term_id)
    if term is None:
        raise NotFound(f"protected term {term_id} does not exist")
    return term


def delete(*, session: Session, term_id: uuid.UUID, actor: str) -> None:
    """Remove a term; 404 when unknown."""
    term = get(session=session, term_id=term_id)
    kind = term.kind
    session.delete(term)
    session.flush()
    _bump_version(session)
    audit.record(
        session,
        actor=actor,
        action="protected_term.deleted",
        target_type="protected_term",
        target_id=str(term_id),
        details={"kind": kind},
        entries=coverage.removed("protected_term", [term_id]),
    )
