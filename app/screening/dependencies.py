"""The screener each request uses: built once per process, refreshed when protected terms change."""

from __future__ import annotations

import threading
from functools import lru_cache
from typing import Any, Protocol

from fastapi import Request
from sqlalchemy import ColumnElement
from sqlmodel import Session

from app.keys import SCREENING_TEXT, derive_key
from app.settings import Settings


class TermSource(Protocol):
    """What screening needs from the protected-term registry, injected at start-up.

    `app.protected_terms` depends on the screening engine (it hashes terms as the engine
    normalises posts), so screening reaches the registry only through this interface.
    """

    #: The change counter as an SQL expression, for statements that act only if it has not moved.
    version_now: ColumnElement[Any]

    def current_version(self, *, session: Session) -> int:
        """Return the change counter."""
        ...

    def all_entries(self, *, session: Session) -> list[tuple[str, str]]:
        """Return every (digest, kind) pair."""
        ...

    def ngram_sizes(self, *, session: Session) -> frozenset[int]:
        """Return the registered terms' lengths in words (a superset will do)."""
        ...


class ScreenerProvider:
    """Holds the process's Screener and swaps in a new protected-term matcher when the DB says so.

    Every worker reads the one-row change counter per screening (a primary-key lookup) and rebuilds
    its matcher only when the counter moved, so a term registered through any worker is enforced
    by all of them from their next request, with nothing shared in process memory.
    """

    def __init__(self, base: Any, *, key: bytes, text_key: bytes, terms: TermSource) -> None:
        self._base = base
        self._key = key
        #: The protected-term registry (counter and entries).
        self.terms = terms
        #: The key of the screened texts' HMAC (`text_hmac`), derived from the service secret.
        self.text_key = text_key
        self._lock = threading.Lock()
        # (counter value, screener) swapped as one tuple so readers never see a torn pair.
        self._state: tuple[int | None, Any] = (None, base)

    @property
    def base(self) -> Any:
        """Return the screener without protected terms (pack and detectors compiled once)."""
        return self._base

    def snapshot(self) -> tuple[int | None, Any]:
        """Return the cached (counter value, screener) without touching the database."""
        return self._state

    def refresh(self, session: Session) -> tuple[int, Any]:
        """Read the counter and return a screener whose protected terms are current as of it."""
        version = self.terms.current_version(session=session)
        cached_version, screener = self._state
        if version == cached_version:
            return version, screener
        with self._lock:
            cached_version, screener = self._state
            if version == cached_version:
                return version, screener
            from app.screening.protected import ProtectedTermMatcher

            # Rows are read after the counter: at worst they are newer than it, which only costs
            # one more rebuild on the next request, never a stale matcher under a fresh number.
            # The lengths are read after the rows, so they cover every row read (only ever more).
            entries = self.terms.all_entries(session=session)
            matcher = ProtectedTermMatcher(entries, self._key, self.terms.ngram_sizes(session=session))
            screener = self._base.with_protected(matcher)
            self._state = (version, screener)
            return version, screener

    def get(self, session: Session) -> Any:
        """Return a screener whose protected terms are current (reads the counter)."""
        return self.refresh(session)[1]


@lru_cache(maxsize=4)
def _base_screener(policy_pack: str | None) -> Any:
    # A Screener is immutable and thread-safe, so apps in one process (tests) share the compile.
    from app.policy.pack import load_pack
    from app.screening.engine import build_screener

    return build_screener(load_pack(policy_pack))


def build_provider(settings: Settings, *, terms: TermSource) -> ScreenerProvider:
    """Load the policy pack and compile the screener (start-up work, never per request)."""
    return ScreenerProvider(
        _base_screener(settings.policy_pack),
        key=settings.secret_key.encode(),
        text_key=derive_key(settings.secret_key, SCREENING_TEXT),
        terms=terms,
    )


_build_lock = threading.Lock()


def screener_provider(request: Request) -> ScreenerProvider:
    """Return the provider built at start-up (built here only if the lifespan did not run).

    A plain call from the routes rather than a FastAPI dependency: it needs nothing from the
    request but the app, and a dependency costs a resolution on every screening.
    """
    provider = getattr(request.app.state, "screener_provider", None)
    if provider is None:
        with _build_lock:
            provider = getattr(request.app.state, "screener_provider", None)
            if provider is None:
                provider = build_provider(request.app.state.settings, terms=request.app.state.protected_terms)
                request.app.state.screener_provider = provider
    return provider
