"""The one source of the time for business rules, injected so tests can move it instead of sleeping.

`now()` is the wall clock (aware UTC) for anything stored or compared with stored times: token
expiry, idempotency expiry, lock-out windows, retention, policy review dates. `monotonic()` is for
intervals inside one process (caches, lock-outs), which must not jump when the wall clock does.
The application holds one in `app.state.clock`; `create_app(clock=...)` swaps in a `FakeClock`.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from typing import Annotated, Protocol

from fastapi import Depends, Request


class Clock(Protocol):
    """What the service asks of a clock."""

    def now(self) -> dt.datetime:
        """Return the current time, timezone-aware, in UTC."""
        ...

    def monotonic(self) -> float:
        """Return seconds on a clock that never goes backwards (only differences mean anything)."""
        ...


class SystemClock:
    """The real clock."""

    def now(self) -> dt.datetime:
        """Return the current time, timezone-aware, in UTC."""
        return dt.datetime.now(dt.UTC)

    def monotonic(self) -> float:
        """Return `time.monotonic()`."""
        return time.monotonic()


#: The clock the service runs on unless told otherwise.
SYSTEM_CLOCK = SystemClock()


async def get_clock(request: Request) -> Clock:
    """Return the application's clock."""
    # Async although it does no I/O: FastAPI runs a synchronous dependency in a worker thread.
    return request.app.state.clock


ClockDep = Annotated[Clock, Depends(get_clock)]


class FakeClock:
    """A clock that moves only when told to; for tests of time-dependent behaviour.

    Both readings move together on `advance`; `set` moves the wall clock alone (as a system clock
    adjustment would), and refuses a naive time.
    """

    def __init__(self, start: dt.datetime | None = None, *, monotonic: float = 1_000.0) -> None:
        self._lock = threading.Lock()
        self._now = _aware(start) if start is not None else dt.datetime.now(dt.UTC)
        self._monotonic = monotonic

    def now(self) -> dt.datetime:
        """Return the fake current time (aware UTC)."""
        with self._lock:
            return self._now

    def monotonic(self) -> float:
        """Return the fake monotonic reading."""
        with self._lock:
            return self._monotonic

    def advance(self, seconds: float = 0.0, **delta: float) -> None:
        """Move both readings forward by `seconds` plus any `timedelta` keywords (days=, hours=...)."""
        step = dt.timedelta(seconds=seconds, **delta)
        if step < dt.timedelta(0):
            raise ValueError("a clock only moves forward; use set() to jump the wall clock")
        with self._lock:
            self._now += step
            self._monotonic += step.total_seconds()

    def set(self, when: dt.datetime) -> None:
        """Set the wall clock to `when` (aware); the monotonic reading is left alone."""
        aware = _aware(when)
        with self._lock:
            self._now = aware


def _aware(when: dt.datetime) -> dt.datetime:
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError("the clock needs a timezone-aware time")
    return when.astimezone(dt.UTC)
