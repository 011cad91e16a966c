"""Registering and removing protected terms, and the counter that tells workers to rebuild."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy import update
from sqlmodel import Session, col, select

from app.audit import coverage
from app.audit import service as audit
from app.errors import Conflict, NotFound, Unprocessable
from app.pagination import keyset_page, split_page
from app.protected_terms.models import ProtectedTerm, ProtectedTermState
from app.protected_terms.schemas import ProtectedTermCreate
from app.screening.protected import MAX_NGRAM, normal_digest, normalize_term, sizes_mask, sizes_of


def _bump_version(session: Session, *, words: int | None = None) -> None:
    """Move the counter (and add a new term's length to the sizes mask), locking the state row.

    Same transaction as the change: a worker that sees the new number also sees the new rows.
    """
    values: dict[str, Any] = {"version": ProtectedTermState.version + 1}
    if words is not None:
        # NULL (lengths not known) stays NULL: NULL | n is NULL.
        values["ngram_sizes"] = col(ProtectedTermState.ngram_sizes).op("|")(sizes_mask([words]))
    session.exec(update(ProtectedTermState).where(col(ProtectedTermState.id) == 1).values(**values))


def _reset_sizes_if_empty(session: Session) -> None:
    """Forget the lengths once no term is left (call with the state row locked).

    The lock is taken first, so a term registered concurrently either committed before this check
    (and is seen) or adds its length after the reset.
    """
    if session.exec(select(ProtectedTerm.id).limit(1)).first() is None:
        session.exec(update(ProtectedTermState).where(col(ProtectedTermState.id) == 1).values(ngram_sizes=0))


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


def ngram_sizes(*, session: Session) -> frozenset[int]:
    """Return the registered terms' lengths in words (every length when not known)."""
    return sizes_of(session.execute(sa.select(_STATE.c.ngram_sizes).where(_STATE.c.id == 1)).scalar())


class Registry:
    """The registry as screening reads it (`app.screening.dependencies.TermSource`), injected at start-up."""

    version_now = VERSION_NOW

    def current_version(self, *, session: Session) -> int:
        """Return the change counter."""
        return current_version(session=session)

    def all_entries(self, *, session: Session) -> list[tuple[str, str]]:
        """Return every (digest, kind) pair."""
        return all_entries(session=session)

    def ngram_sizes(self, *, session: Session) -> frozenset[int]:
        """Return the registered terms' lengths in words."""
        return ngram_sizes(session=session)


def create(*, session: Session, term_in: ProtectedTermCreate, key: bytes, actor: str) -> ProtectedTerm:
    """Hash and store a term; 409 when the same normalised value is already registered."""
    normal = normalize_term(term_in.value)
    words = len(normal.split())
    if not words:
        raise Unprocessable(
            "The value is empty once normalised.",
            errors=[{"field": "body.value", "message": "empty after normalisation", "type": "value_error"}],
        )
    if words > MAX_NGRAM:
        # The screener looks for terms of up to MAX_NGRAM words; a longer one would never match.
        raise Unprocessable(
            f"The value has {words} words once normalised; a protected term has at most {MAX_NGRAM}.",
            errors=[{"field": "body.value", "message": f"more than {MAX_NGRAM} words", "type": "value_error"}],
        )
    digest = normal_digest(normal, key)
    existing = session.exec(select(ProtectedTerm).where(ProtectedTerm.digest == digest)).first()
    if existing is not None:
        raise Conflict("This term is already registered.", existing_id=str(existing.id))
    term = ProtectedTerm(kind=term_in.kind.value, digest=digest, created_by=actor)
    session.add(term)
    session.flush()
    _bump_version(session, words=words)
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
    _reset_sizes_if_empty(session)
    audit.record(
        session,
        actor=actor,
        action="protected_term.deleted",
        target_type="protected_term",
        target_id=str(term_id),
        details={"kind": kind},
        entries=coverage.removed("protected_term", [term_id]),
    )
