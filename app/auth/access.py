"""Which signed tokens are nevertheless refused: those of disabled or deleted clients, and revoked ones.

Each worker keeps one snapshot (active client ids, revoked jtis), read in one query pair at most
every `POLICY_ACCESS_CACHE_SECONDS` (≤ 60 s): that is how long a disable, delete or revocation can
take to reach every worker, and the only database work this adds to an authenticated request.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass

from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from app.auth import service
from app.auth.tokens import Principal, TokenError

logger = logging.getLogger("app.auth.access")
SessionOpener = Callable[[], AbstractContextManager[Session]]
# A token naming a client the snapshot does not know, issued after (or just before) the snapshot
# was read, re-reads it: the client may be newer than the snapshot. Older tokens of an unknown
# client are refused without a query, so a deleted client's holder cannot make every request one.
CLOCK_SKEW_SECONDS = 2.0


@dataclass(frozen=True, slots=True)
class AccessSnapshot:
    """Active client ids and revoked jtis as read at `taken_at` (monotonic seconds)."""

    active_clients: frozenset[str]
    revoked_jtis: frozenset[str]
    taken_at: float
    taken_at_epoch: float


class AccessGuard:
    """Refuse tokens whose client is disabled or deleted, or whose jti is revoked."""

    def __init__(
        self,
        open_session: SessionOpener,
        *,
        max_age: float,
        clock: Callable[[], float] = time.monotonic,
        epoch_clock: Callable[[], float] = time.time,
    ) -> None:
        self._open_session = open_session
        self._max_age = max_age
        self._clock = clock
        self._epoch_clock = epoch_clock
        self._snapshot: AccessSnapshot | None = None
        self._lock = threading.Lock()

    def needs_refresh(self, principal: Principal) -> bool:
        """Tell whether checking `principal` needs a fresh read from the database (do it off the event loop)."""
        snapshot = self._snapshot
        if snapshot is None:
            return True
        age = self._clock() - snapshot.taken_at
        if age >= self._max_age:
            return True
        unknown_client = principal.client_id is not None and principal.client_id not in snapshot.active_clients
        issued = principal.issued_at if principal.issued_at is not None else float("inf")
        return unknown_client and issued >= snapshot.taken_at_epoch - CLOCK_SKEW_SECONDS

    def refresh(self) -> None:
        """Read the active clients and revoked tokens again (blocking database work).

        If the database cannot be read, the last snapshot is kept for another lifetime: nobody can
        disable, delete or revoke anything while it is down either, so it is still accurate, and
        routes that need no database keep working. Without any snapshot the error propagates (503).
        """
        with self._lock:
            try:
                with self._open_session() as session:
                    active, revoked = service.access_snapshot(session=session)
            except SQLAlchemyError:
                last = self._snapshot
                if last is None:
                    raise
                logger.warning("access snapshot not refreshed: the database cannot be read; keeping the last one")
                self._snapshot = AccessSnapshot(
                    last.active_clients, last.revoked_jtis, self._clock(), last.taken_at_epoch
                )
                return
            self._snapshot = AccessSnapshot(active, revoked, self._clock(), self._epoch_clock())

    def check(self, principal: Principal) -> None:
        """Raise TokenError when the snapshot says the token must be refused."""
        snapshot = self._snapshot
        if snapshot is None:
            raise TokenError("the token cannot be checked right now")
        if principal.jti is not None and principal.jti in snapshot.revoked_jtis:
            raise TokenError("the token has been revoked")
        if principal.client_id is not None and principal.client_id not in snapshot.active_clients:
            raise TokenError("the token's client is disabled or no longer exists")
