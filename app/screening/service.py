"""Screening posts, storing the outcome without the text, and reading it back."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy import ColumnElement, Insert, insert
from sqlmodel import Session, col, select

from app.authorities import service as authorities
from app.errors import NotFound, Unprocessable
from app.keys import keyed_digest
from app.pagination import keyset_page, split_page
from app.screening.models import CONTENT_COLUMNS, Screening
from app.screening.schemas import PostIn
from app.screening.types import AuthorRole, Finding, ScreenContext, ScreenResult, Verdict

if TYPE_CHECKING:
    from app.screening.dependencies import ScreenerProvider

# C0 controls except tab/LF/CR, DEL, C1 controls and lone surrogates (which cannot be UTF-8).
_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


def check_text(text: str, *, limit: int, field: str) -> None:
    """Reject text over `limit` characters or with control characters (422 naming `field`).

    Control characters are refused rather than stripped: spans must index the text exactly as
    submitted, and a NUL byte inside a word is more likely evasion than content.
    """
    if len(text) > limit:
        raise Unprocessable(
            f"{field} is {len(text)} characters; the limit is {limit}.",
            errors=[{"field": field, "message": f"at most {limit} characters", "type": "string_too_long"}],
            limit=limit,
        )
    if not text.strip():
        raise Unprocessable(
            f"{field} is empty.",
            errors=[{"field": field, "message": "must contain some text", "type": "string_too_short"}],
        )
    bad = _FORBIDDEN.search(text)
    if bad is not None:
        raise Unprocessable(
            f"{field} contains a control character (U+{ord(bad.group()):04X}) at offset {bad.start()}.",
            errors=[
                {
                    "field": field,
                    "message": "control characters other than tab, LF and CR are not accepted",
                    "type": "control_character",
                }
            ],
            offset=bad.start(),
        )


def check_batch(posts: Sequence[PostIn], *, text_limit: int, batch_limit: int) -> None:
    """Apply the batch-size and per-text limits (422 naming the field and the limit)."""
    if len(posts) > batch_limit:
        raise Unprocessable(
            f"The batch has {len(posts)} posts; the limit is {batch_limit}.",
            errors=[{"field": "body.items", "message": f"at most {batch_limit} posts", "type": "too_long"}],
            limit=batch_limit,
        )
    for index, post in enumerate(posts):
        check_text(post.text, limit=text_limit, field=f"body.items.{index}.text")


@dataclass(frozen=True, slots=True)
class Prepared:
    """What a post needs besides its text: the engine context and any authority notes."""

    context: ScreenContext
    notes: tuple[str, ...]


def prepare(*, session: Session, posts: Sequence[PostIn], now: dt.datetime) -> list[Prepared]:
    """Check cited authority grants as of `now` (one query) and build each post's engine context."""
    cited = [(p.context.authority_id, p.author.id) for p in posts if p.context.authority_id is not None]
    verdicts = authorities.check_many(session=session, cited=cited, now=now)
    prepared = []
    for post in posts:
        notes: tuple[str, ...] = ()
        live = False
        grant_id = post.context.authority_id
        if grant_id is not None:
            why_not = verdicts[(grant_id, post.author.id)]
            live = why_not is None
            notes = (f"authority {grant_id} applied",) if live else (f"authority {grant_id} ignored: {why_not}",)
        context = ScreenContext(
            author_role=AuthorRole(post.author.role),
            platform=post.platform,
            account=post.context.account,
            prior_authority=live,
            registration_email=post.context.registration_email,
        )
        prepared.append(Prepared(context=context, notes=notes))
    return prepared


def finding_json(finding: Finding) -> dict[str, Any]:
    """Serialise a finding in full (spans and explanation), as stored for audit."""
    e = finding.explanation
    return {
        "rule_id": finding.rule_id,
        "clause": finding.clause,
        "severity": str(finding.severity),
        "confidence": finding.confidence,
        "spans": [{"start": s.start, "end": s.end} for s in finding.spans],
        "evidence": finding.evidence,
        "reason": finding.reason,
        "remediation": finding.remediation,
        "action": str(finding.action),
        "categories": list(finding.categories),
        "explanation": {
            "detector": e.detector,
            "base_score": e.base_score,
            "context_boost": e.context_boost,
            "supporting_word": e.supporting_word,
            "validation": e.validation,
            "pattern_name": e.pattern_name,
        },
    }


_PUBLIC_FINDING_KEYS = ("rule_id", "clause", "severity", "confidence", "spans", "evidence", "reason", "remediation")


def public_finding(stored: dict[str, Any], *, explain: bool) -> dict[str, Any]:
    """Shape a stored finding for the API; the explanation only on request."""
    out = {k: stored[k] for k in _PUBLIC_FINDING_KEYS}
    out["categories"] = stored.get("categories", [])
    if explain:
        out["explanation"] = stored.get("explanation")
    return out


@dataclass(slots=True)
class Outcome:
    """One screened post, ready to store and to answer with."""

    post: PostIn
    result: ScreenResult
    notes: list[str]
    findings: list[dict[str, Any]]
    text_hmac: str
    screened_at: dt.datetime
    id: uuid.UUID | None = None


def screen(
    screener: Any, posts: Sequence[PostIn], prepared: Sequence[Prepared], *, text_key: bytes, now: dt.datetime
) -> list[Outcome]:
    """Run the engine on each post, screened at `now` (CPU only: call it outside any database transaction).

    `text_key` keys the text's HMAC (`text_hmac`): without it nobody can confirm a guessed post.
    """
    outcomes = []
    for post, prep in zip(posts, prepared, strict=True):
        result = screener.screen(post.text, prep.context)
        outcomes.append(
            Outcome(
                post=post,
                result=result,
                notes=[*result.notes, *prep.notes],
                findings=[finding_json(f) for f in result.findings],
                text_hmac=keyed_digest(text_key, post.text.encode("utf-8")),
                screened_at=now,
            )
        )
    return outcomes


def _row(outcome: Outcome, actor: str) -> dict[str, Any]:
    # A plain dict for a Core insert: building ORM instances costs more than the insert itself.
    post, result = outcome.post, outcome.result
    return {
        "id": outcome.id,
        "created_at": outcome.screened_at,
        "created_by": actor,
        "author_id": post.author.id,
        "author_role": str(post.author.role),
        "platform": post.platform,
        "account": post.context.account,
        "authority_id": post.context.authority_id,
        "text_hmac": outcome.text_hmac,
        "text_length": len(post.text),
        "suggested_text": result.suggested_text,
        "verdict": str(result.verdict),
        "risk_score": result.risk_score,
        "rule_ids": " " + " ".join(result.rule_ids) + " ",
        "findings": outcome.findings,
        "notes": outcome.notes,
        "policy_version": result.policy_version,
        "engine_version": result.engine_version,
    }


_SCREENINGS = Screening.__table__  # type: ignore[attr-defined]
_INSERT_SCREENING = insert(_SCREENINGS)


@lru_cache(maxsize=4)
def _insert_if_terms_unchanged(version_now: ColumnElement[Any]) -> Insert:
    # INSERT ... SELECT <the row> WHERE <protected-term counter> = :terms_version: the hot path's
    # check that the screener was current, folded into its one write instead of a read before it.
    # Built once per registry (`version_now` is its counter as an SQL expression).
    return (
        insert(_SCREENINGS)
        .from_select(
            CONTENT_COLUMNS,
            sa.select(*(sa.bindparam(c.name, type_=c.type) for c in CONTENT_COLUMNS)).where(
                version_now == sa.bindparam("terms_version")
            ),
        )
        .returning(_SCREENINGS.c.id)
    )  # a row back means inserted (psycopg gives no rowcount for INSERT ... SELECT)


def store(*, session: Session, outcomes: Sequence[Outcome], actor: str) -> None:
    """Insert the outcomes (never the text); sets each outcome's id. Does not commit.

    No audit event here: the sealer (`app.screening.sealing`) chains stored screenings into the
    audit log in batches, so a request never waits for the chain's head lock.
    """
    for outcome in outcomes:
        outcome.id = uuid.uuid4()
    session.execute(_INSERT_SCREENING, [_row(o, actor) for o in outcomes])


def store_if_terms_unchanged(
    *, session: Session, outcome: Outcome, actor: str, terms_version: int, version_now: ColumnElement[Any]
) -> bool:
    """Insert one outcome only if the protected-term counter (`version_now`) still equals `terms_version`.

    Returns False, having stored nothing, when terms changed since the screener that produced
    `outcome` was built; the caller then refreshes the screener, screens again and `store`s.
    """
    outcome.id = uuid.uuid4()
    params = {**_row(outcome, actor), "terms_version": terms_version}
    if session.execute(_insert_if_terms_unchanged(version_now), params).first() is not None:
        return True
    outcome.id = None
    return False


def screen_current(
    *, session: Session, provider: ScreenerProvider, posts: Sequence[PostIn], now: dt.datetime, early: bool = True
) -> list[Outcome]:
    """Screen `posts` at `now` with protected terms current as of this transaction.

    The engine is CPU-only, so with `early` (the caller has not opened the transaction yet) and no
    cited grant it runs first, with the process's cached screener; the transaction then reads the
    protected-term counter and re-screens only if the counter moved meanwhile, so SQLite's write
    lock is never held while the engine runs on that path. A worker that has never read the
    counter skips the early run: its result would be screened again anyway.
    """
    cached_version, cached = provider.snapshot()
    result: list[Outcome] | None = None
    if early and cached_version is not None and not any(p.context.authority_id for p in posts):
        # Nothing to look up: prepare() needs the database only for cited grants.
        result = screen(
            cached, posts, prepare(session=session, posts=posts, now=now), text_key=provider.text_key, now=now
        )
    version, screener = provider.refresh(session)
    if result is not None and version == cached_version:
        return result
    return screen(screener, posts, prepare(session=session, posts=posts, now=now), text_key=provider.text_key, now=now)


def store_with_cached_screener(
    *, session: Session, provider: ScreenerProvider, post: PostIn, actor: str, now: dt.datetime
) -> Outcome | None:
    """Screen with the process's screener, then store in one statement (the common request).

    The INSERT itself checks that the protected-term counter still equals the one the screener was
    built at, so the hot path costs one write and no read. None (nothing stored) when this worker
    has not read the counter yet or terms changed meanwhile: the caller then uses `screen_current`.
    """
    version, screener = provider.snapshot()
    if version is None:
        return None
    prepared = prepare(session=session, posts=[post], now=now)
    outcome = screen(screener, [post], prepared, text_key=provider.text_key, now=now)[0]
    stored = store_if_terms_unchanged(
        session=session, outcome=outcome, actor=actor, terms_version=version, version_now=provider.terms.version_now
    )
    return outcome if stored else None


def outcome_json(outcome: Outcome, *, explain: bool) -> dict[str, Any]:
    """Build the API body for a fresh outcome (JSON-ready, no second validation pass)."""
    post, result = outcome.post, outcome.result
    return {
        "id": str(outcome.id) if outcome.id is not None else None,
        "verdict": str(result.verdict),
        "risk_score": result.risk_score,
        "findings": [public_finding(f, explain=explain) for f in outcome.findings],
        "suggested_text": result.suggested_text,
        "policy_version": result.policy_version,
        "engine_version": result.engine_version,
        "notes": outcome.notes,
        "created_at": outcome.screened_at.isoformat().replace("+00:00", "Z"),
        "author": {"id": post.author.id, "role": str(post.author.role)},
        "platform": post.platform,
        "account": post.context.account,
        "authority_id": str(post.context.authority_id) if post.context.authority_id else None,
        "text_hmac": outcome.text_hmac,
    }


def row_json(row: Screening, *, explain: bool) -> dict[str, Any]:
    """Build the API body for a stored screening."""
    return {
        "id": str(row.id),
        "verdict": row.verdict,
        "risk_score": row.risk_score,
        "findings": [public_finding(f, explain=explain) for f in row.findings],
        "suggested_text": row.suggested_text,
        "policy_version": row.policy_version,
        "engine_version": row.engine_version,
        "notes": list(row.notes),
        "created_at": row.created_at.isoformat().replace("+00:00", "Z"),
        "author": {"id": row.author_id, "role": row.author_role},
        "platform": row.platform,
        "account": row.account,
        "authority_id": str(row.authority_id) if row.authority_id else None,
        "text_hmac": row.text_hmac,
    }


def get(*, session: Session, screening_id: uuid.UUID, only_author: str | None) -> Screening:
    """Return a stored screening; 404 when unknown or not visible to the caller."""
    row = session.get(Screening, screening_id)
    if row is None or (only_author is not None and row.author_id != only_author):
        raise NotFound(f"screening {screening_id} does not exist")
    return row


@dataclass(frozen=True, slots=True)
class ScreeningFilters:
    """List filters; all optional and combined with AND."""

    verdict: Verdict | None = None
    rule_id: str | None = None
    author_id: str | None = None
    platform: str | None = None
    created_from: dt.datetime | None = None
    created_to: dt.datetime | None = None


def list_screenings(
    *,
    session: Session,
    filters: ScreeningFilters,
    only_author: str | None,
    cursor: str | None,
    limit: int,
) -> tuple[Sequence[Screening], str | None]:
    """Return one page of stored screenings, newest first."""
    stmt = select(Screening)
    if only_author is not None:
        stmt = stmt.where(Screening.author_id == only_author)
    if filters.verdict is not None:
        stmt = stmt.where(Screening.verdict == str(filters.verdict))
    if filters.rule_id is not None:
        stmt = stmt.where(col(Screening.rule_ids).like(f"% {filters.rule_id} %"))
    if filters.author_id is not None:
        stmt = stmt.where(Screening.author_id == filters.author_id)
    if filters.platform is not None:
        stmt = stmt.where(Screening.platform == filters.platform)
    if filters.created_from is not None:
        stmt = stmt.where(col(Screening.created_at) >= filters.created_from)
    if filters.created_to is not None:
        stmt = stmt.where(col(Screening.created_at) < filters.created_to)
    stmt = keyset_page(stmt, col(Screening.created_at), col(Screening.id), cursor=cursor, limit=limit)
    return split_page(list(session.exec(stmt).all()), limit)
