"""Structured JSON logs for the service (configured by the app factory, never on import)."""

from __future__ import annotations

import json
import logging
import sys
import traceback
from typing import Any

from sqlalchemy.exc import SQLAlchemyError, StatementError

#: Modules of the database drivers, whose error messages quote row values (PostgreSQL's DETAIL
#: "Failing row contains (...)", "Key (...)=(...) already exists").
_DRIVER_MODULES = ("sqlite3", "psycopg", "psycopg2")

_RESERVED = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}


def _chain(exc: BaseException) -> list[BaseException]:
    """Return ``exc`` and the exceptions it was raised from or during, innermost last."""
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def is_database_error(exc: BaseException) -> bool:
    """Return True if ``exc`` or any exception in its chain comes from the database layer."""
    return any(
        isinstance(e, SQLAlchemyError) or type(e).__module__.split(".")[0] in _DRIVER_MODULES for e in _chain(exc)
    )


def database_error_text(exc: BaseException) -> str:
    """Return a traceback of a database error without its messages (which may quote row values).

    The frames, exception types, SQLSTATE and SQL statement stay (parameters are never in it:
    the engine has `hide_parameters`), so the failure can still be diagnosed.
    """
    parts: list[str] = []
    for e in reversed(_chain(exc)):
        parts.append("Traceback (most recent call last):\n" + "".join(traceback.format_tb(e.__traceback__)))
        line = f"{type(e).__module__}.{type(e).__qualname__}: (message withheld: it may quote row values)"
        sqlstate = getattr(e, "sqlstate", None) or getattr(getattr(e, "orig", None), "sqlstate", None)
        if sqlstate:
            line += f" sqlstate={sqlstate}"
        if isinstance(e, StatementError) and e.statement:
            line += f"\n[SQL: {e.statement}]"
        parts.append(line + "\n")
    return "\n".join(parts).rstrip()


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and any `extra` fields."""

    def formatException(self, ei: Any) -> str:  # noqa: N802 - logging's name
        """Format a traceback; a database error's messages are withheld (see database_error_text)."""
        exc = ei[1] if ei else None
        if exc is not None and is_database_error(exc):
            return database_error_text(exc)
        return super().formatException(ei)

    def format(self, record: logging.LogRecord) -> str:
        """Render one record as a JSON line."""
        entry: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update({k: v for k, v in record.__dict__.items() if k not in _RESERVED})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(level: str) -> None:
    """Send the service's logs to stderr as JSON lines at `level`."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    for name in ("app", "app.access"):
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler] if name == "app" else []
        logger.setLevel(level.upper())
    logging.getLogger("app").propagate = False
    # uvicorn's own access log would print query strings; ours is the one to keep.
    logging.getLogger("uvicorn.access").disabled = True
