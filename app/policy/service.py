"""Policy review status, review history and acknowledgements (plain functions; flush, never commit).

The pack's own review ("Reviewed Nov 2019") is the first entry of the history. It is synthesised
from the pack on every read, never stored, so a fresh database already has a complete history
and changing the pack changes it too.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, SQLModel, col, select

from app.audit import service as audit
from app.errors import BadRequest, Conflict, NotFound, Unprocessable
from app.pagination import decode_cursor, keyset_page, split_page
from app.policy.models import PolicyAcknowledgement, PolicyReview
from app.policy.pack import PolicyPack
from app.policy.schemas import (
    AcknowledgementCoverage,
    AcknowledgementPage,
    AcknowledgementRead,
    OutstandingPage,
    OutstandingPerson,
    PolicyClauseList,
    PolicyClauseRead,
    PolicyReviewCreate,
    PolicyReviewPage,
    PolicyReviewRead,
    PolicyStatusRead,
    ReviewSource,
)
from app.policy.status import compute_schedule

# Fixed namespace so the synthesised original review keeps the same id across processes and restarts.
_ORIGINAL_REVIEW_NS = uuid.UUID("5b0e7d2c-3f4a-4c1e-9a57-6d1f0c2b8e11")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
MAX_PERSON_ID = 200

# Tables of other domains whose people count as "known to the service" (table, person column).
_PEOPLE_SOURCES = (("screening", "author_id"), ("incident", "subject_id"))


# --- reviews -------------------------------------------------------------------------------------


def original_review(pack: PolicyPack) -> PolicyReviewRead:
    """Return the review printed in the policy pack as the first entry of the history."""
    meta = pack.review
    return PolicyReviewRead(
        id=uuid.uuid5(_ORIGINAL_REVIEW_NS, f"{pack.name}:{meta.version}:{meta.last_reviewed.isoformat()}"),
        source=ReviewSource.PACK,
        version=meta.version,
        previous_version=None,
        reviewed_on=meta.last_reviewed,
        reviewer=None,
        summary=meta.label,
        recorded_by=None,
        created_at=dt.datetime.combine(meta.last_reviewed, dt.time(), tzinfo=dt.UTC),
    )


def review_to_read(review: PolicyReview) -> PolicyReviewRead:
    """Shape a stored review for the API."""
    return PolicyReviewRead(
        id=review.id,
        source=ReviewSource.RECORDED,
        version=review.version,
        previous_version=review.previous_version,
        reviewed_on=review.reviewed_on,
        reviewer=review.reviewer,
        summary=review.summary,
        recorded_by=review.recorded_by,
        created_at=review.created_at,
    )


def current_review(*, session: Session, pack: PolicyPack) -> PolicyReviewRead:
    """Return the latest review: the newest recorded one, unless the pack's own is later."""
    # The head of the chain is the review no later review supersedes; unique `previous_version`
    # keeps the history a single line, so there is at most one (timestamps may tie, this cannot).
    superseded = select(PolicyReview.previous_version)
    latest = session.exec(
        select(PolicyReview)
        .where(PolicyReview.version.not_in(superseded))  # type: ignore[attr-defined]
        .order_by(PolicyReview.created_at.desc())  # type: ignore[attr-defined]
        .limit(1)
    ).first()
    if latest is not None and latest.reviewed_on >= pack.review.last_reviewed:
        return review_to_read(latest)
    return original_review(pack)


def _review_label(review: PolicyReviewRead, pack: PolicyPack) -> str:
    if review.source is ReviewSource.PACK:
        return pack.review.label
    return f"Reviewed {_MONTHS[review.reviewed_on.month - 1]} {review.reviewed_on.year}"


def known_versions(*, session: Session, pack: PolicyPack) -> set[str]:
    """Return every version label the policy has had (the pack's and each recorded review's)."""
    stored = session.exec(select(PolicyReview.version)).all()
    return {pack.review.version, *stored}


def create_review(
    *, session: Session, pack: PolicyPack, review_in: PolicyReviewCreate, today: dt.date, actor: str
) -> PolicyReviewRead:
    """Record a review; it becomes the current version, so the status moves to `current`."""
    if review_in.reviewed_on > today:
        raise Unprocessable(
            f"reviewed_on {review_in.reviewed_on.isoformat()} is in the future (today is {today.isoformat()}).",
            errors=[{"field": "body.reviewed_on", "message": "must not be in the future", "type": "date_future"}],
        )
    current = current_review(session=session, pack=pack)
    if review_in.reviewed_on < current.reviewed_on:
        raise Unprocessable(
            f"reviewed_on {review_in.reviewed_on.isoformat()} is before the last review "
            f"({current.reviewed_on.isoformat()}).",
            errors=[
                {
                    "field": "body.reviewed_on",
                    "message": f"must not be before the last review ({current.reviewed_on.isoformat()})",
                    "type": "date_before_last_review",
                }
            ],
        )
    if review_in.version in known_versions(session=session, pack=pack):
        which = "the current version" if review_in.version == current.version else "an earlier version"
        raise Conflict(
            f"version {review_in.version!r} is {which}; a review needs a new version label.",
            current_version=current.version,
        )
    review = PolicyReview(
        version=review_in.version,
        previous_version=current.version,
        reviewed_on=review_in.reviewed_on,
        reviewer=review_in.reviewer,
        summary=review_in.summary,
        recorded_by=actor,
    )
    try:
        with session.begin_nested():
            session.add(review)
            session.flush()
    except IntegrityError as exc:
        # Another review of the same version (or with the same label) committed first.
        raise Conflict(
            "Another review was recorded at the same time; re-read the policy status and retry.",
        ) from exc
    audit.record(
        session,
        actor=actor,
        action="policy.review_recorded",
        target_type="policy_review",
        target_id=str(review.id),
        details={
            "version": review.version,
            "previous_version": review.previous_version,
            "reviewed_on": review.reviewed_on.isoformat(),
        },
        covers=[("policy_review", review.id)],
    )
    return review_to_read(review)


def get_review(*, session: Session, pack: PolicyPack, review_id: uuid.UUID) -> PolicyReviewRead:
    """Return one review of the history (the pack's original included) or raise NotFound."""
    original = original_review(pack)
    if review_id == original.id:
        return original
    review = session.get(PolicyReview, review_id)
    if review is None:
        raise NotFound(f"policy review {review_id} does not exist")
    return review_to_read(review)


def _after_cursor(item: PolicyReviewRead, cursor: str | None) -> bool:
    if cursor is None:
        return True
    created_at, row_id = decode_cursor(cursor)
    return (item.created_at, item.id) < (created_at, row_id)


def list_reviews(*, session: Session, pack: PolicyPack, cursor: str | None, limit: int) -> PolicyReviewPage:
    """Return the review history, newest first, with the pack's original merged into its place."""
    stmt = keyset_page(select(PolicyReview), PolicyReview.created_at, PolicyReview.id, cursor=cursor, limit=limit)
    items = [review_to_read(row) for row in session.exec(stmt).all()]
    original = original_review(pack)
    if _after_cursor(original, cursor):
        items.append(original)
        items.sort(key=lambda r: (r.created_at, r.id), reverse=True)
        items = items[: limit + 1]
    page, next_cursor = split_page(items, limit)
    return PolicyReviewPage(items=page, next_cursor=next_cursor)


# --- status and clauses --------------------------------------------------------------------------


def _known_people() -> sa.Subquery:
    """Union of the distinct person ids the service knows: acknowledgers, authors, incident subjects."""
    ack = PolicyAcknowledgement.__table__  # type: ignore[attr-defined]
    parts: list[Any] = [sa.select(ack.c.person_id.label("person_id"))]
    tables = SQLModel.metadata.tables
    # Those tables belong to other domains: count them only when their models are registered, so this
    # works with or without them.
    for table_name, column in _PEOPLE_SOURCES:
        table = tables.get(table_name)
        if table is not None and column in table.c:
            parts.append(sa.select(table.c[column].label("person_id")))
    return sa.union(*parts).subquery("known_people")


def coverage(*, session: Session, version: str) -> AcknowledgementCoverage:
    """Count acknowledgements of `version` against the people known to the service."""
    known = session.execute(sa.select(sa.func.count()).select_from(_known_people())).scalar_one()
    acknowledged = session.execute(
        sa.select(sa.func.count()).select_from(PolicyAcknowledgement).where(PolicyAcknowledgement.version == version)  # type: ignore[arg-type]
    ).scalar_one()
    return AcknowledgementCoverage(
        version=version,
        acknowledged=acknowledged,
        known_people=known,
        outstanding=max(0, known - acknowledged),
        share=round(acknowledged / known, 4) if known else None,
    )


def get_status(
    *,
    session: Session,
    pack: PolicyPack,
    today: dt.date,
    interval_months: int,
    due_soon_days: int,
) -> PolicyStatusRead:
    """Return the policy's review status on `today`, with acknowledgement coverage of the current version."""
    review = current_review(session=session, pack=pack)
    schedule = compute_schedule(
        last_reviewed=review.reviewed_on, today=today, interval_months=interval_months, due_soon_days=due_soon_days
    )
    return PolicyStatusRead(
        title=pack.review.title,
        organisation=pack.review.organisation,
        version=review.version,
        label=_review_label(review, pack),
        last_reviewed=review.reviewed_on,
        reviewed_by=review.reviewer,
        review_interval_months=interval_months,
        due_soon_days=due_soon_days,
        next_review_due=schedule.next_review_due,
        status=schedule.status,
        days_overdue=schedule.days_overdue,
        days_until_due=schedule.days_until_due,
        as_of=today,
        clause_count=len(pack.clauses),
        policy_pack_version=pack.policy_version,
        acknowledgements=coverage(session=session, version=review.version),
    )


class StatusCache:
    """The worker's latest status answer per day, reused for `max_age` seconds.

    The status counts the people known to the service over every screening and incident, far more
    work than the answer is worth on every call; acknowledgement counts may lag by `max_age` on
    other workers, and `clear()` (after a review or an acknowledgement here) ends the lag here.
    """

    def __init__(self, max_age: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._max_age = max_age
        self._clock = clock
        self._entry: tuple[dt.date, float, dict[str, Any]] | None = None

    def get(self, today: dt.date) -> dict[str, Any] | None:
        """Return the cached JSON-ready status for `today`, or None when there is none young enough."""
        entry = self._entry
        if entry is None or entry[0] != today or self._clock() - entry[1] >= self._max_age:
            return None
        return entry[2]

    def put(self, today: dt.date, status: dict[str, Any]) -> None:
        """Remember the status computed for `today` (kept only when caching is on)."""
        if self._max_age > 0:
            self._entry = (today, self._clock(), status)

    def clear(self) -> None:
        """Forget the cached status (the policy's reviews or acknowledgements changed)."""
        self._entry = None


def list_clauses(*, pack: PolicyPack) -> PolicyClauseList:
    """Return every clause of the pack with its sentence, severity and remediation."""
    items = [
        PolicyClauseRead(rule_id=c.rule_id, title=c.title, text=c.text, severity=c.severity, remediation=c.remediation)
        for c in pack.clauses
    ]
    return PolicyClauseList(items=items, count=len(items), policy_pack_version=pack.policy_version)


# --- acknowledgements ----------------------------------------------------------------------------


def ack_to_read(ack: PolicyAcknowledgement) -> AcknowledgementRead:
    """Shape a stored acknowledgement for the API."""
    return AcknowledgementRead(
        id=ack.id,
        person_id=ack.person_id,
        version=ack.version,
        recorded_by=ack.recorded_by,
        acknowledged_at=ack.created_at,
    )


def _find_ack(session: Session, person_id: str, version: str) -> PolicyAcknowledgement | None:
    return session.exec(
        select(PolicyAcknowledgement)
        .where(PolicyAcknowledgement.person_id == person_id, PolicyAcknowledgement.version == version)
        .execution_options(populate_existing=True)
    ).first()


def acknowledge(
    *, session: Session, pack: PolicyPack, person_id: str, version: str | None, actor: str
) -> tuple[AcknowledgementRead, bool]:
    """Record that `person_id` has read the current version; returns (acknowledgement, created).

    Idempotent per person and version: a repeat returns the existing acknowledgement unchanged.
    """
    if len(person_id) > MAX_PERSON_ID:
        raise Unprocessable(
            f"person id is longer than {MAX_PERSON_ID} characters",
            errors=[{"field": "body.person_id", "message": "too long", "type": "string_too_long"}],
        )
    current = current_review(session=session, pack=pack).version
    if version is not None and version != current:
        raise Conflict(
            f"version {version!r} is not the current version of the policy ({current!r}); read the current one "
            "and acknowledge that.",
            current_version=current,
        )
    existing = _find_ack(session, person_id, current)
    if existing is not None:
        return ack_to_read(existing), False
    ack = PolicyAcknowledgement(person_id=person_id, version=current, recorded_by=actor)
    try:
        with session.begin_nested():
            session.add(ack)
            session.flush()
    except IntegrityError:
        # A concurrent acknowledgement of the same person and version committed first: it is the answer.
        existing = _find_ack(session, person_id, current)
        if existing is None:
            raise
        return ack_to_read(existing), False
    audit.record(
        session,
        actor=actor,
        action="policy.acknowledged",
        target_type="policy_acknowledgement",
        target_id=str(ack.id),
        details={"version": current, "on_behalf": person_id != actor},
        covers=[("policy_acknowledgement", ack.id)],
    )
    return ack_to_read(ack), True


def get_acknowledgement(*, session: Session, acknowledgement_id: uuid.UUID) -> AcknowledgementRead:
    """Return one acknowledgement or raise NotFound."""
    ack = session.get(PolicyAcknowledgement, acknowledgement_id)
    if ack is None:
        raise NotFound(f"acknowledgement {acknowledgement_id} does not exist")
    return ack_to_read(ack)


def list_acknowledgements(
    *,
    session: Session,
    pack: PolicyPack,
    version: str | None,
    person_id: str | None,
    cursor: str | None,
    limit: int,
) -> AcknowledgementPage:
    """List acknowledgements of `version` (default: the current one), newest first."""
    if version is None:
        version = current_review(session=session, pack=pack).version
    elif version not in known_versions(session=session, pack=pack):
        raise NotFound(f"the policy has no version {version!r}")
    stmt = select(PolicyAcknowledgement).where(PolicyAcknowledgement.version == version)
    if person_id is not None:
        stmt = stmt.where(PolicyAcknowledgement.person_id == person_id)
    stmt = keyset_page(stmt, PolicyAcknowledgement.created_at, PolicyAcknowledgement.id, cursor=cursor, limit=limit)
    rows, next_cursor = split_page(list(session.exec(stmt).all()), limit)
    return AcknowledgementPage(version=version, items=[ack_to_read(r) for r in rows], next_cursor=next_cursor)


def _encode_person_cursor(person_id: str) -> str:
    raw = json.dumps({"p": person_id}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode_person_cursor(cursor: str) -> str:
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        person_id = data["p"]
        if not isinstance(person_id, str):
            raise TypeError("person id")
        return person_id
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        raise BadRequest(
            "The cursor is not valid; pass the `next_cursor` of a previous page unchanged.",
            errors=[{"field": "query.cursor", "message": "invalid cursor", "type": "cursor_invalid"}],
        ) from exc


def list_outstanding(*, session: Session, pack: PolicyPack, cursor: str | None, limit: int) -> OutstandingPage:
    """List known people who have not acknowledged the current version, by person id."""
    version = current_review(session=session, pack=pack).version
    known = _known_people()
    acked = sa.select(col(PolicyAcknowledgement.person_id)).where(col(PolicyAcknowledgement.version) == version)
    outstanding = sa.select(known.c.person_id).where(known.c.person_id.not_in(acked))
    total = session.execute(sa.select(sa.func.count()).select_from(outstanding.subquery())).scalar_one()
    page_stmt = outstanding
    if cursor is not None:
        page_stmt = page_stmt.where(known.c.person_id > _decode_person_cursor(cursor))
    ids = list(session.execute(page_stmt.order_by(known.c.person_id).limit(limit + 1)).scalars())
    next_cursor = _encode_person_cursor(ids[limit - 1]) if len(ids) > limit else None
    ids = ids[:limit]
    latest: dict[str, str] = {}
    if ids:
        rows = session.execute(
            sa.select(col(PolicyAcknowledgement.person_id), col(PolicyAcknowledgement.version))
            .where(col(PolicyAcknowledgement.person_id).in_(ids))
            .order_by(col(PolicyAcknowledgement.created_at))
        ).all()
        latest = {row.person_id: row.version for row in rows}
    items = [OutstandingPerson(person_id=p, last_acknowledged_version=latest.get(p)) for p in ids]
    return OutstandingPage(version=version, total=total, items=items, next_cursor=next_cursor)


def status_line(status: PolicyStatusRead) -> str:
    """Return the one human line `python -m app policy-status` prints."""
    head = (
        f"{status.title} policy ({status.organisation}) version {status.version}, "
        f"last reviewed {status.last_reviewed.isoformat()}"
    )
    due = status.next_review_due.isoformat()
    if status.status == "overdue":
        verdict = f"OVERDUE by {status.days_overdue} days (review was due {due})"
    elif status.status == "due_soon":
        verdict = f"DUE SOON: review due {due} (in {status.days_until_due} days)"
    else:
        verdict = f"current: next review due {due} (in {status.days_until_due} days)"
    cov = status.acknowledgements
    return f"{head}: {verdict}; {cov.acknowledged}/{cov.known_people} known people acknowledged {cov.version}"
