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
from app.errors import NotFound, Unprocessable
from app.pagination import keyset_page, split_page


def status_of(grant: AuthorityGrant, now: dt.datetime) -> GrantStatus:
    """Return whether `grant` is active, pending, expired or revoked at `now`."""
    if grant.revoked_at is not None:
        return GrantStatus.REVOKED
    if now < grant.valid_from:
        return GrantStatus.PENDING
    if now >= grant.valid_until:
        return GrantStatus.EXPIRED
    return GrantStatus.ACTIVE


def to_read(grant: AuthorityGrant, now: dt.datetime) -> AuthorityRead:
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


def create(*, session: Session, grant_in: AuthorityCreate, actor: str, now: dt.datetime) -> AuthorityGrant:
    """Record a grant starting at `valid_from` (or `now`) and audit it; 422 on `body.valid_until` if it ends first."""
    if grant_in.valid_from is None and grant_in.valid_until <= now:
        # Checked here, not in the schema: "now" is the service's clock, not the validator's.
        raise Unprocessable(
            "valid_until must be after valid_from (now, when omitted).",
            errors=[{"field": "body.valid_until", "message": "valid_until must be after valid_from",
                     "type": "value_error"}],
        )  # fmt: skip
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
    now: dt.datetime,
) -> tuple[Sequence[AuthorityGrant], str | None]:
    """Return one page of grants, newest first, optionally for one person or one status at `now`."""
    stmt = select(AuthorityGrant)
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


def revoke(*, session: Session, grant_id: uuid.UUID, actor: str, now: dt.datetime) -> AuthorityGrant:
    """Stamp a grant revoked at `now` (the row stays); revoking twice changes nothing."""
    grant = get(session=session, grant_id=grant_id)
    if grant.revoked_at is not None:
        return grant
    grant.revoked_at = now
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


def check_many(
    *, session: Session, cited: Sequence[tuple[uuid.UUID, str]], now: dt.datetime
) -> dict[tuple[uuid.UUID, str], str | None]:
    """For each (grant id, author id) cited by a screening, return None if live at `now`, else why not.

    One query for all of them, so a batch of 100 posts costs the same as one.
    """
    if not cited:
        return {}
    ids = {grant_id for grant_id, _ in cited}
    grants = {g.id: g for g in session.exec(select(AuthorityGrant).where(col(AuthorityGrant.id).in_(ids)))}
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
