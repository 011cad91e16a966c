"""Granting, listing, revoking and checking prior authority to speak publicly."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence

from sqlmodel import Session, col, select

from app.audit import keys as audit_keys
from app.audit import service as audit
from app.authorities.models import AuthorityGrant
from app.authorities.schemas import AuthorityCreate, AuthorityRead, GrantStatus
from app.db import utcnow
from app.errors import NotFound
from app.pagination import keyset_page, split_page


def status_of(grant: AuthorityGrant, now: dt.datetime | None = None) -> GrantStatus:
    """Return whether `grant` is active, pending, expired or revoked at `now`."""
    now = now or utcnow()
    if grant.revoked_at is not None:
        return GrantStatus.REVOKED
    if now < grant.valid_from:
        return GrantStatus.PENDING
    if now >= grant.valid_until:
        return GrantStatus.EXPIRED
    return GrantStatus.ACTIVE


def to_read(grant: AuthorityGrant, now: dt.datetime | None = None) -> AuthorityRead:
    """Shape a grant for the API, with its status at `now`."""
    return AuthorityRead(
        id=grant.id,
        person_id=grant.person_id,
        topic=grant.topic,
        valid_from=grant.valid_from,
        valid_until=grant.valid_until,
        granted_by=grant.granted_by,
        created_at=grant.created_at,
        revoked_at=grant.revoked_at,
        revoked_by=grant.revoked_by,
        status=status_of(grant, now),
    )


def create(*, session: Session, grant_in: AuthorityCreate, actor: str) -> AuthorityGrant:
    """Record a grant and audit it."""
    now = utcnow()
    grant = AuthorityGrant(
        person_id=grant_in.person_id,
        topic=grant_in.topic,
        valid_from=grant_in.valid_from or now,
        valid_until=grant_in.valid_until,
        granted_by=actor,
        created_at=now,
    )
    session.add(grant)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="authority.granted",
        target_type="authority_grant",
        target_id=str(grant.id),
        # A keyed pseudonym, not the id: the chain is immutable and must outlive an erasure.
        details={"person": audit_keys.current().pseudonym(grant.person_id)},
        covers=[("authority_grant", grant.id)],
    )
    return grant


def list_grants(
    *,
    session: Session,
    person_id: str | None,
    status: GrantStatus | None,
    cursor: str | None,
    limit: int,
) -> tuple[Sequence[AuthorityGrant], str | None]:
    """Return one page of grants, newest first, optionally for one person or one status."""
    stmt = select(AuthorityGrant)
    now = utcnow()
    if person_id is not None:
        stmt = stmt.where(AuthorityGrant.person_id == person_id)
    if status is GrantStatus.REVOKED:
        stmt = stmt.where(col(AuthorityGrant.revoked_at).is_not(None))
    elif status is not None:
        stmt = stmt.where(col(AuthorityGrant.revoked_at).is_(None))
        if status is GrantStatus.ACTIVE:
            stmt = stmt.where(col(AuthorityGrant.valid_from) <= now, col(AuthorityGrant.valid_until) > now)
        elif status is GrantStatus.PENDING:
            stmt = stmt.where(col(AuthorityGrant.valid_from) > now)
        else:
            stmt = stmt.where(col(AuthorityGrant.valid_until) <= now)
    stmt = keyset_page(stmt, col(AuthorityGrant.created_at), col(AuthorityGrant.id), cursor=cursor, limit=limit)
    return split_page(list(session.exec(stmt).all()), limit)


def get(*, session: Session, grant_id: uuid.UUID) -> AuthorityGrant:
    """Return one grant; 404 when unknown."""
    grant = session.get(AuthorityGrant, grant_id)
    if grant is None:
        raise NotFound(f"authority {grant_id} does not exist")
    return grant


def revoke(*, session: Session, grant_id: uuid.UUID, actor: str) -> AuthorityGrant:
    """Stamp a grant revoked (the row stays); revoking twice changes nothing."""
    grant = get(session=session, grant_id=grant_id)
    if grant.revoked_at is not None:
        return grant
    grant.revoked_at = utcnow()
    grant.revoked_by = actor
    session.add(grant)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="authority.revoked",
        target_type="authority_grant",
        target_id=str(grant.id),
        # A keyed pseudonym, not the id: the chain is immutable and must outlive an erasure.
        details={"person": audit_keys.current().pseudonym(grant.person_id)},
        covers=[("authority_grant", grant.id)],
    )
    return grant


def check_many(*, session: Session, cited: Sequence[tuple[uuid.UUID, str]]) -> dict[tuple[uuid.UUID, str], str | None]:
    """For each (grant id, author id) cited by a screening, return None if live, else why not.

    One query for all of them, so a batch of 100 posts costs the same as one.
    """
    if not cited:
        return {}
    ids = {grant_id for grant_id, _ in cited}
    grants = {g.id: g for g in session.exec(select(AuthorityGrant).where(col(AuthorityGrant.id).in_(ids)))}
    now = utcnow()
    outcome: dict[tuple[uuid.UUID, str], str | None] = {}
    for grant_id, author_id in cited:
        grant = grants.get(grant_id)
        if grant is None:
            outcome[(grant_id, author_id)] = "unknown"
        elif grant.person_id != author_id:
            outcome[(grant_id, author_id)] = "granted to another person"
        else:
            status = status_of(grant, now)
            reasons = {
                GrantStatus.REVOKED: "revoked",
                GrantStatus.PENDING: "not yet valid",
                GrantStatus.EXPIRED: "expired",
            }
            outcome[(grant_id, author_id)] = reasons.get(status)
    return outcome
