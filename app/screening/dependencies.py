"""The screener each request uses: built once per process, refreshed when protected terms change."""

from __future__ import annotations

import threading
from functools import lru_cache
from typing import Any

from fastapi import Request
from sqlmodel import Session

from app.keys import SCREENING_TEXT, derive_key
from app.protected_terms import service as terms_service
from app.settings import Settings


class ScreenerProvider:
    """Holds the process's Screener and swaps in a new protected-term matcher when the DB says so.

    Every worker reads the one-row change counter per screening (a primary-key lookup) and rebuilds
    its matcher only when the counter moved, so a term registered through any worker is enforced
    by all of them from their next request, with nothing shared in process memory.
    """

    def __init__(self, base: Any, *, key: bytes, text_key: bytes) -> None:
        self._base = base
        self._key = key
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
        version = terms_service.current_version(session=session)
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
            matcher = ProtectedTermMatcher(terms_service.all_entries(session=session), self._key)
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


def build_provider(settings: Settings) -> ScreenerProvider:
    """Load the policy pack and compile the screener (start-up work, never per request)."""
    return ScreenerProvider(
        _base_screener(settings.policy_pack),
        key=settings.secret_key.encode(),
        text_key=derive_key(settings.secret_key, SCREENING_TEXT),
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
                provider = build_provider(request.app.state.settings)
                request.app.state.screener_provider = provider
    return provider
