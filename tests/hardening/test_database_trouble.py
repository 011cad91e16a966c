"""Which database errors read as an unavailable database (503 + Retry-After) and which are bugs (500)."""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy import exc as sa_exc

from app.errors import database_trouble


class _DriverError(Exception):
    """A driver exception carrying a SQLSTATE, as psycopg's do."""

    def __init__(self, message: str, sqlstate: str | None) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate


def _operational(orig: Exception) -> sa_exc.OperationalError:
    return sa_exc.OperationalError("INSERT INTO incident ...", {}, orig)


@pytest.mark.parametrize(
    ("orig", "expected"),
    [
        (sqlite3.OperationalError("no such table: incident"), None),
        (sqlite3.OperationalError('near "SELEC": syntax error'), None),
        (sqlite3.OperationalError("table incident has no column named summary"), None),
        (sqlite3.OperationalError("unable to open database file"), "unreachable"),
        (sqlite3.OperationalError("disk I/O error"), "unreachable"),
        (sqlite3.OperationalError("database is locked"), "busy"),
        (sqlite3.OperationalError("attempt to write a readonly database"), "read-only"),
        (sqlite3.OperationalError("database or disk is full"), "full"),
        (_DriverError("connection to server failed", "08006"), "unreachable"),
        (_DriverError("terminating connection due to administrator command", "57P01"), "unreachable"),
        (_DriverError("relation does not exist", "42P01"), None),
        (_DriverError("cannot execute INSERT in a read-only transaction", "25006"), "read-only"),
        (_DriverError("could not extend file: No space left on device", "53100"), "full"),
        (_DriverError("connection refused", None), "unreachable"),
    ],
)
def test_operational_errors_are_classified_by_cause(orig, expected):
    assert database_trouble(_operational(orig)) == expected


def test_pool_timeouts_are_busy_and_other_errors_are_bugs():
    assert database_trouble(sa_exc.TimeoutError("pool exhausted")) == "busy"
    assert database_trouble(sa_exc.IntegrityError("INSERT", {}, _DriverError("duplicate key", "23505"))) is None
    assert database_trouble(ValueError("not a database error")) is None
