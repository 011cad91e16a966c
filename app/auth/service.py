"""Machine clients and tokens: registration, lifecycle, credential checks, failure counts, revocations.

Nothing here hashes a secret while the session holds a connection: callers load what they need
(`load_credentials`), end the transaction, and only then call `secret_matches`.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func
from sqlmodel import Session, col, select

from app.audit import service as audit
from app.auth.exceptions import ClientNameTaken, ClientNotFound, InvalidClient, OAuthTooManyRequests
from app.auth.limits import Lockouts
from app.auth.models import ApiClient, AuthFailure, RevokedToken
from app.auth.schemas import ClientCreated, ClientRead
from app.auth.scopes import parse_scopes
from app.auth.secrets import DUMMY_HASH, hash_secret, new_client_secret, verify_secret
from app.auth.tokens import TokenError, decode_token
from app.db import utcnow
from app.errors import Unprocessable
from app.pagination import keyset_page, split_page
from app.settings import Settings

FAILURE_WINDOW = dt.timedelta(minutes=1)


def _check_name_free(session: Session, name: str) -> None:
    existing = session.exec(select(ApiClient.client_id).where(ApiClient.name == name)).first()
    if existing is not None:
        raise ClientNameTaken(f"A client named {name!r} already exists.", existing_client_id=existing)


def create_client(*, session: Session, name: str, scopes: str, pepper: str, actor: str) -> ClientCreated:
    """Register a client and return its id and secret (the only time the secret is visible).

    Raises ValueError for unknown or missing scopes and ClientNameTaken (409) for a duplicate name.
    """
    granted = parse_scopes(scopes)
    if not granted:
        raise ValueError("a client needs at least one scope")
    secret, secret_hash = new_secret_and_hash(pepper)  # before the first query: no connection held
    _check_name_free(session, name)
    client_id = "cli_" + secrets.token_hex(8)
    client = ApiClient(client_id=client_id, name=name, secret_hash=secret_hash, scopes=" ".join(sorted(granted)))
    session.add(client)
    session.flush()
    _audit(session, actor, "client.created", client, {"name": name, "scopes": client.scopes})
    return ClientCreated(**as_read(client).model_dump(), client_secret=secret)


def new_secret_and_hash(pepper: str) -> tuple[str, str]:
    """Return a fresh client secret and its hash; call it before opening a transaction (it is slow)."""
    secret = new_client_secret()
    return secret, hash_secret(secret, pepper=pepper)


def as_read(client: ApiClient) -> ClientRead:
    """Return the public view of a client: never a secret or a hash."""
    return ClientRead(
        client_id=client.client_id,
        name=client.name,
        scopes=client.scopes.split(),
        status="disabled" if client.disabled_at is not None else "active",
        created_at=client.created_at,
        disabled_at=client.disabled_at,
        previous_secret_expires_at=client.previous_secret_expires_at,
    )


def _audit(session: Session, actor: str, action: str, client: ApiClient, details: dict[str, Any] | None = None) -> None:
    # `covers` records the row as stored after the change (or as removed, once deleted).
    audit.record(
        session, actor=actor, action=action, target_type="api_client", target_id=client.client_id,
        details=details or {}, covers=[("api_client", client.id)],
    )  # fmt: skip


def get_client(*, session: Session, client_id: str) -> ApiClient:
    """Return the client with this id, or raise ClientNotFound (404)."""
    client = session.exec(select(ApiClient).where(ApiClient.client_id == client_id)).first()
    if client is None:
        raise ClientNotFound(f"No client has the id {client_id!r}.")
    return client


def list_clients(*, session: Session, cursor: str | None, limit: int) -> tuple[list[ApiClient], str | None]:
    """Return one page of clients, newest first, and the cursor of the next page."""
    statement = keyset_page(select(ApiClient), col(ApiClient.created_at), col(ApiClient.id), cursor=cursor, limit=limit)
    return split_page(list(session.exec(statement).all()), limit)


def set_disabled(*, session: Session, client_id: str, disabled: bool, actor: str) -> ApiClient:
    """Disable (its tokens stop working) or re-enable a client; repeating either changes nothing."""
    client = get_client(session=session, client_id=client_id)
    if disabled == (client.disabled_at is not None):
        return client
    client.disabled_at = utcnow() if disabled else None
    session.add(client)
    session.flush()
    _audit(session, actor, "client.disabled" if disabled else "client.enabled", client)
    return client


def rotate_secret(
    *,
    session: Session,
    client_id: str,
    new_hash: str,
    grace: dt.timedelta,
    actor: str,
    now: dt.datetime | None = None,
) -> ApiClient:
    """Replace the client's secret hash; the old secret keeps working for `grace` from `now`.

    The caller hashes the new secret before opening the transaction (see `hash_secret`).
    """
    client = get_client(session=session, client_id=client_id)
    now = now or utcnow()
    client.previous_secret_hash = client.secret_hash if grace > dt.timedelta(0) else None
    client.previous_secret_expires_at = now + grace if grace > dt.timedelta(0) else None
    client.secret_hash = new_hash
    session.add(client)
    session.flush()
    _audit(session, actor, "client.secret_rotated", client, {"grace_seconds": int(grace.total_seconds())})
    return client


def delete_client(*, session: Session, client_id: str, actor: str) -> None:
    """Delete a client; its tokens stop working and its id can never authenticate again."""
    client = get_client(session=session, client_id=client_id)
    session.delete(client)
    session.flush()
    _audit(session, actor, "client.deleted", client, {"name": client.name})


@dataclass(frozen=True, slots=True)
class ClientCredentials:
    """What checking a secret needs, detached from any session."""

    client_id: str
    scopes: frozenset[str]
    active: bool
    secret_hashes: tuple[str, ...]


def load_credentials(*, session: Session, client_id: str, now: dt.datetime | None = None) -> ClientCredentials | None:
    """Read a client's hashes (the previous one only inside its grace period), or None if unknown."""
    client = session.exec(select(ApiClient).where(ApiClient.client_id == client_id)).first()
    if client is None:
        return None
    hashes = [client.secret_hash]
    expires = client.previous_secret_expires_at
    if client.previous_secret_hash and expires is not None and (now or utcnow()) < expires:
        hashes.append(client.previous_secret_hash)
    return ClientCredentials(
        client_id=client.client_id,
        scopes=frozenset(client.scopes.split()),
        active=client.disabled_at is None,
        secret_hashes=tuple(hashes),
    )


def secret_matches(credentials: ClientCredentials | None, secret: str, *, pepper: str) -> bool:
    """Tell whether `secret` is an active client's current (or in-grace previous) secret; slow on purpose.

    Unknown and disabled clients cost the same hash, so timing does not tell them apart.
    """
    hashes = credentials.secret_hashes if credentials is not None else (DUMMY_HASH,)
    matched = False
    for stored in hashes:
        matched = verify_secret(secret, stored, pepper=pepper) or matched
    return matched and credentials is not None and credentials.active


def recent_failures(*, session: Session, keys: list[str], now: dt.datetime | None = None) -> dict[str, int]:
    """Count failed attempts in the last minute under each of `keys`."""
    since = (now or utcnow()) - FAILURE_WINDOW
    rows = session.exec(
        select(AuthFailure.key, func.count())
        .where(col(AuthFailure.key).in_(keys), col(AuthFailure.failed_at) >= since)
        .group_by(AuthFailure.key)
    ).all()
    counts = dict.fromkeys(keys, 0)
    counts.update({key: count for key, count in rows})
    return counts


def reserve_attempt(*, session: Session, keys: list[str], now: dt.datetime | None = None) -> list[int]:
    """Count an attempt under each of `keys` before its secret is checked; return the row ids.

    Committed before the check, so concurrent attempts on any worker or instance see each other:
    of attempts racing past the limit, at most the limit are checked. The rows stay when the
    attempt fails and go (`release_attempt`) when it succeeds or is refused unchecked. Entries
    older than an hour are pruned.
    """
    at = now or utcnow()
    rows = [AuthFailure(key=key, failed_at=at) for key in keys]
    session.add_all(rows)
    session.exec(delete(AuthFailure).where(col(AuthFailure.failed_at) < at - dt.timedelta(hours=1)))
    session.flush()
    return [row.id for row in rows if row.id is not None]


def release_attempt(*, session: Session, ids: list[int]) -> None:
    """Withdraw an attempt `reserve_attempt` counted: it succeeded, or was refused unchecked."""
    session.exec(delete(AuthFailure).where(col(AuthFailure.id).in_(ids)))


def revoke(*, session: Session, settings: Settings, jti: str | None, token: str | None, actor: str) -> RevokedToken:
    """Revoke a token given by its `jti` or whole (signature checked; its `exp` bounds the entry)."""
    if token is not None:
        try:
            principal = decode_token(settings, token)
        except TokenError as exc:
            raise Unprocessable(
                f"The token cannot be revoked: {exc}.",
                errors=[{"field": "body.token", "message": str(exc), "type": "token_invalid"}],
            ) from exc
        if principal.jti is None or principal.expires_at is None:
            raise Unprocessable(
                "The token has no jti claim, so it cannot be revoked on its own; disable its client instead.",
                errors=[{"field": "body.token", "message": "no jti claim", "type": "token_without_jti"}],
            )
        return revoke_token(
            session=session,
            jti=principal.jti,
            expires_at=dt.datetime.fromtimestamp(principal.expires_at, dt.UTC),
            actor=actor,
        )
    if not jti:
        raise ValueError("give a jti or a token to revoke")
    # Without the token its expiry is unknown: keep the entry as long as any token can live.
    longest = dt.timedelta(seconds=settings.max_token_ttl_seconds + settings.jwt_leeway_seconds)
    return revoke_token(session=session, jti=jti, expires_at=utcnow() + longest, actor=actor)


def revoke_token(*, session: Session, jti: str, expires_at: dt.datetime, actor: str) -> RevokedToken:
    """Put a token's `jti` on the denylist until it would have expired; revoking twice is harmless."""
    now = utcnow()
    session.exec(delete(RevokedToken).where(col(RevokedToken.expires_at) < now))
    existing = session.get(RevokedToken, jti)
    if existing is not None:
        return existing
    revoked = RevokedToken(jti=jti, expires_at=expires_at, revoked_at=now)
    session.add(revoked)
    session.flush()
    audit.record(session, actor=actor, action="token.revoked", target_type="token", target_id=jti, details={})
    return revoked


def access_snapshot(*, session: Session) -> tuple[frozenset[str], frozenset[str]]:
    """Return the ids of active clients and the jtis revoked and not yet expired."""
    active = session.exec(select(ApiClient.client_id).where(col(ApiClient.disabled_at).is_(None))).all()
    revoked = session.exec(select(RevokedToken.jti).where(col(RevokedToken.expires_at) >= utcnow())).all()
    return frozenset(active), frozenset(revoked)


#: How long a (client, address) or an address that reached its failure limit is refused.
LOCKOUT_SECONDS = 60


def check_client(
    *,
    client_id: str,
    secret: str,
    keys: list[str],
    limits: Mapping[str, int],
    now: dt.datetime,
    write_session: Callable[[], AbstractContextManager[Session]],
    read_session: Callable[[], AbstractContextManager[Session]],
    lockouts: Lockouts,
    pepper: str,
    basic: bool,
) -> ClientCredentials:
    """Count the attempt, check the failure limits, then the secret; return the client's credentials.

    Each `with` block is one short transaction; the scrypt hash between them holds no connection.
    The attempt is counted (committed) before anything is checked, so concurrent guesses on every
    worker and instance see each other and a burst gets no more checks than the limit.

    Args:
        client_id: The client id presented.
        secret: The secret presented.
        keys: The failure keys of this attempt: (client, address), then the address.
        limits: Failures allowed per minute, per key.
        now: The current time.
        write_session: Opens a session that may write (the attempt's counter).
        read_session: Opens a session for the reads.
        lockouts: This worker's lockouts, extended when a key reaches its limit.
        pepper: The server secret mixed into client secrets' hashes.
        basic: The client authenticated with HTTP Basic (the 401 then says so).

    Raises:
        OAuthTooManyRequests: a key is over its limit (429).
        InvalidClient: unknown client, wrong secret or disabled client (401).

    """
    with write_session() as session:
        attempt = reserve_attempt(session=session, keys=keys, now=now)
        session.commit()
    with read_session() as session:
        counts = recent_failures(session=session, keys=keys, now=now)  # this attempt included
        credentials = load_credentials(session=session, client_id=client_id, now=now)
    over = [key for key in keys if counts[key] > limits[key]]
    matched = not over and secret_matches(credentials, secret, pepper=pepper)
    if over or matched:
        with write_session() as session:
            release_attempt(session=session, ids=attempt)
            session.commit()
    if over:
        for key in over:
            lockouts.lock(key, LOCKOUT_SECONDS)
        raise OAuthTooManyRequests("Too many failed attempts from this address; wait before retrying.", LOCKOUT_SECONDS)
    if matched and credentials is not None:
        return credentials
    for key in keys:
        if counts[key] >= limits[key]:
            lockouts.lock(key, LOCKOUT_SECONDS)
    raise InvalidClient("The client id or secret is wrong, or the client is disabled.", basic=basic)
