"""Safe retries for POSTs: `Idempotency-Key` replays the stored response of the first attempt.

The record is written in the same transaction as the work it describes, so a retry after a crash
either finds both or neither. Keys are scoped to the caller (token subject) and expire after
`POLICY_IDEMPOTENCY_TTL_HOURS`. The same key with a different body is a 422.

A record keeps only what a replay needs: the caller, the key, a keyed fingerprint of the request
(HMAC under a key derived from POLICY_SECRET_KEY, so a post or summary in the body cannot be
confirmed by guessing) and the response to replay. Never the request body, its method or path.
"""

from __future__ import annotations

import datetime as dt
import hmac
import json
import uuid
from typing import Annotated, Any

from fastapi import Depends, Header, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from sqlalchemy import JSON, Column, UniqueConstraint
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, Session, SQLModel, select

from app.clock import SYSTEM_CLOCK, Clock
from app.db import UTCDateTime, utcnow
from app.errors import Unprocessable
from app.keys import IDEMPOTENCY_REQUEST, derive_key

REPLAY_HEADER = "Idempotent-Replayed"
_REPLAYED_HEADERS = ("location", "etag")


class IdempotencyRecord(SQLModel, table=True):
    """The response given to the first request that used a key (and nothing of the request)."""

    __tablename__ = "idempotency_record"
    __table_args__ = (UniqueConstraint("principal", "key"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    principal: str = Field(max_length=200)
    key: str = Field(max_length=255)
    request_fingerprint: str = Field(
        max_length=64, description="HMAC-SHA256 of method, path, query and canonical body; empty before 0006."
    )
    status_code: int
    response_body: Any = Field(sa_column=Column(JSON, nullable=True))
    response_headers: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    expires_at: dt.datetime = Field(sa_type=UTCDateTime, index=True)


class Idempotency:
    """Per-request helper: replay a stored response, or commit the work and remember it."""

    def __init__(
        self, *, key: str | None, request: Request, fingerprint: str, ttl: dt.timedelta, clock: Clock = SYSTEM_CLOCK
    ):
        self.key = key
        self._clock = clock
        self._request = request
        self.fingerprint = fingerprint
        self.ttl = ttl

    @property
    def principal(self) -> str:
        """The caller's token subject: keys are scoped to it.

        Read from the request when used, not resolved as a dependency of its own: every route
        that takes this helper also requires a token, whose check runs before any route body.
        """
        return self._request.state.principal.sub

    def replay(self, session: Session) -> JSONResponse | None:
        """Return the stored response for this key, or None when the work must be done."""
        if self.key is None:
            return None
        record = session.exec(
            select(IdempotencyRecord).where(
                IdempotencyRecord.principal == self.principal, IdempotencyRecord.key == self.key
            )
        ).first()
        if record is None:
            return None
        if record.expires_at <= self._clock.now():
            session.delete(record)
            session.flush()
            return None
        # A record made before keyed fingerprints has none to compare ("") and still replays.
        if record.request_fingerprint and not hmac.compare_digest(record.request_fingerprint, self.fingerprint):
            raise Unprocessable(
                "This Idempotency-Key was already used with a different request body or path.",
                errors=[
                    {
                        "field": "header.Idempotency-Key",
                        "message": "key reused with a different request",
                        "type": "idempotency_key_reused",
                    }
                ],
            )
        headers = dict(record.response_headers)
        headers[REPLAY_HEADER] = "true"
        return JSONResponse(record.response_body, status_code=record.status_code, headers=headers)

    def commit(
        self,
        session: Session,
        *,
        status_code: int,
        body: Any,
        headers: dict[str, str] | None = None,
        json_ready: bool = False,
        replay_body: Any = None,
    ) -> JSONResponse:
        """Commit the request's transaction (with the idempotency record) and build the response.

        The commit happens before the response exists, so a 2xx always means durable.
        `replay_body`, when given, is stored for replays instead of `body`: a secret shown once
        must not be kept in the idempotency record.
        """
        # `json_ready` skips the generic encoder for bodies already made of JSON types (hot paths).
        content = body if json_ready else jsonable_encoder(body)
        headers = headers or {}
        if self.key is not None:
            session.add(
                IdempotencyRecord(
                    principal=self.principal,
                    key=self.key,
                    request_fingerprint=self.fingerprint,
                    status_code=status_code,
                    response_body=content if replay_body is None else jsonable_encoder(replay_body),
                    response_headers={k: v for k, v in headers.items() if k.lower() in _REPLAYED_HEADERS},
                    expires_at=self._clock.now() + self.ttl,
                )
            )
        try:
            session.commit()
        except IntegrityError:
            # A concurrent request with the same key won the race: its result is the answer.
            session.rollback()
            if self.key is None:
                raise
            replayed = self.replay(session)
            if replayed is None:
                raise
            return replayed
        return JSONResponse(content, status_code=status_code, headers=headers)


def _fingerprint(request: Request, body: bytes) -> str:
    """Return the keyed fingerprint of a request: equal for a retry, unmatchable without the secret."""
    key = derive_key(request.app.state.settings.secret_key, IDEMPOTENCY_REQUEST)
    digest = hmac.new(key, digestmod="sha256")
    for part in (request.method, request.url.path, request.url.query):
        digest.update(part.encode() + b"\0")
    try:
        # Canonical JSON, so whitespace or key order in a retry does not count as a new body.
        digest.update(json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")).encode())
    except (ValueError, UnicodeDecodeError):
        digest.update(body)
    return digest.hexdigest()


async def get_idempotency(
    request: Request,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            min_length=1,
            max_length=255,
            pattern=r"^[\x21-\x7e]+$",
            description="Unique per logical request (e.g. a UUID). Retrying with the same key and body "
            "returns the first response; keys expire after 24 hours.",
        ),
    ] = None,
) -> Idempotency:
    """Read the `Idempotency-Key` header (1-255 visible ASCII characters) and fingerprint the request."""
    # Without a key nothing is stored or compared, so the body is not read or hashed.
    fingerprint = "" if idempotency_key is None else _fingerprint(request, await request.body())
    return Idempotency(
        key=idempotency_key,
        request=request,
        fingerprint=fingerprint,
        ttl=dt.timedelta(hours=request.app.state.settings.idempotency_ttl_hours),
        clock=request.app.state.clock,
    )


IdempotencyDep = Annotated[Idempotency, Depends(get_idempotency)]
