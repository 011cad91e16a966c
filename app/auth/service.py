"""Machine clients: registration, client-credentials verification, failed-attempt limits."""

from __future__ import annotations

import datetime as dt
import secrets

from sqlalchemy import delete, func
from sqlmodel import Session, col, select

from app.audit import service as audit
from app.auth.models import ApiClient, AuthFailure
from app.auth.schemas import ClientCreated
from app.auth.scopes import parse_scopes
from app.auth.secrets import DUMMY_HASH, hash_secret, new_client_secret, verify_secret
from app.db import utcnow

FAILURE_WINDOW = dt.timedelta(minutes=1)


def create_client(*, session: Session, name: str, scopes: str, pepper: str, actor: str) -> ClientCreated:
    """Register a client and return its id and secret (the only time the secret is visible)."""
    granted = parse_scopes(scopes)
    if not granted:
        raise ValueError("a client needs at least one scope")
    client_id = "cli_" + secrets.token_hex(8)
    secret = new_client_secret()
    client = ApiClient(
        client_id=client_id,
        name=name,
        secret_hash=hash_secret(secret, pepper=pepper),
        scopes=" ".join(sorted(granted)),
    )
    session.add(client)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="client.created",
        target_type="api_client",
        target_id=client_id,
        details={"name": name, "scopes": client.scopes},
        covers=[("api_client", client.id)],
    )
    return ClientCreated(client_id=client_id, client_secret=secret, name=name, scopes=client.scopes)


def authenticate_client(*, session: Session, client_id: str, client_secret: str, pepper: str) -> ApiClient | None:
    """Return the active client whose secret matches, or None; timing does not reveal which failed."""
    client = session.exec(select(ApiClient).where(ApiClient.client_id == client_id)).first()
    stored = client.secret_hash if client is not None else DUMMY_HASH
    ok = verify_secret(client_secret, stored, pepper=pepper)
    if client is None or client.disabled_at is not None or not ok:
        return None
    return client


def recent_failures(*, session: Session, keys: list[str], now: dt.datetime | None = None) -> int:
    """Count failed attempts in the last minute for the busiest of `keys`."""
    since = (now or utcnow()) - FAILURE_WINDOW
    rows = session.exec(
        select(AuthFailure.key, func.count())
        .where(col(AuthFailure.key).in_(keys), col(AuthFailure.failed_at) >= since)
        .group_by(AuthFailure.key)
    ).all()
    return max((count for _key, count in rows), default=0)


def reserve_attempt(*, session: Session, keys: list[str], now: dt.datetime | None = None) -> list[int]:
    """Count an attempt under each of `keys` before its credentials are checked; return the row ids.

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
