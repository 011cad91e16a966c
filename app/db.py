"""Database engine, session dependency and portable column types.

SQLite (default, zero set-up) and PostgreSQL (production) behave the same way for the service:
every write transaction on SQLite starts with ``BEGIN IMMEDIATE`` so that concurrent writers queue
on the database lock instead of failing half-way through, which is what PostgreSQL row locks and
conditional updates give us there.

Reads must not queue behind writers, though: on SQLite a request with a safe method (GET, HEAD)
gets its session from a second, read-only engine whose transactions begin deferred, so WAL gives
them a snapshot without taking the write lock, on connections of their own (the writer pool has
one connection per process, which may be waiting for another process's write lock). Those
connections are `PRAGMA query_only`, so a write slipped into a GET fails loudly at once instead of
surfacing as a rare "database is locked" under load.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any

import anyio
from fastapi import Depends, Request
from sqlalchemy import DateTime, Engine, MetaData, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.pool import StaticPool
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, Session, SQLModel

from app.settings import Settings

# Deterministic constraint names so Alembic can drop and alter them on every dialect.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
SQLModel.metadata.naming_convention = NAMING_CONVENTION
metadata: MetaData = SQLModel.metadata


def utcnow() -> dt.datetime:
    """Return the current time as an aware UTC datetime."""
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator):
    """Timezone-aware timestamp stored as UTC on every dialect (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        """Store as UTC (naive on SQLite, which keeps no zone); refuse naive input."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        """Give back an aware UTC datetime on every dialect."""
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


def _prepare_sqlite_file(url: str) -> None:
    database = make_url(url).database
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).parent.mkdir(parents=True, exist_ok=True)


#: Read connections per process on SQLite: WAL readers run in parallel, a few cover the thread pool.
READ_POOL_SIZE = 4


def build_engine(settings: Settings) -> Engine:
    """Create the one engine a process writes with, tuned for the configured database.

    `hide_parameters`: SQL parameters hold post text, summaries and phone numbers, so an error's
    message (and any traceback that prints it) shows the statement without them.
    """
    url = settings.database_url
    if settings.is_sqlite and make_url(url).database in (None, "", ":memory:"):
        # One shared in-memory database (tooling such as the OpenAPI generator).
        engine = create_engine(
            url, connect_args={"check_same_thread": False}, poolclass=StaticPool, hide_parameters=True
        )
        _install_sqlite_pragmas(engine, settings.sqlite_busy_timeout_ms)
        return engine
    if settings.is_sqlite:
        _prepare_sqlite_file(url)
        return _sqlite_file_engine(settings, pool_size=settings.db_pool_size or 1, read_only=False)
    engine = create_engine(
        url,
        pool_size=settings.db_pool_size or SERVER_POOL_SIZE,
        max_overflow=SERVER_POOL_OVERFLOW,
        hide_parameters=True,
    )
    _ping_after_idle(engine, IDLE_PING_SECONDS)
    return engine


#: Connections per process on a database server; no overflow. A request's session is closed after
#: its response is sent, so under load a client's next request checks out a connection before the
#: last one is back: a 10+5 pool kept going over 10 and closing the extra connections as they came
#: back, about one new PostgreSQL connection per ten requests. The same 15 kept open cost nothing.
SERVER_POOL_SIZE = 15
SERVER_POOL_OVERFLOW = 0
#: A pooled server connection unused for longer than this is pinged before it is handed out.
IDLE_PING_SECONDS = 2.0
_CHECKED_IN_AT = "checked_in_at"


def _ping_after_idle(engine: Engine, idle_seconds: float) -> None:
    # `pool_pre_ping` costs a round trip on every checkout, i.e. on every request. A connection
    # used a moment ago is alive; one that sat idle (a database restart, a proxy's timeout) is
    # checked first, and a dead one is replaced before any request sees it.
    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info[_CHECKED_IN_AT] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get(_CHECKED_IN_AT)
        if since is None or time.monotonic() - since < idle_seconds:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as exc:
            # The pool discards this connection and checks out another (SQLAlchemy's documented recipe).
            raise DisconnectionError("the pooled connection no longer answers") from exc


def build_read_engine(settings: Settings, engine: Engine) -> Engine:
    """Return the engine safe-method requests read with.

    On a SQLite file, a pool of read-only connections whose transactions begin deferred (a WAL
    snapshot, no write lock), so reads neither wait for a writer nor for this process's writer
    connection. On a database server, `engine`'s own pool in autocommit: a read committed
    transaction takes a fresh snapshot per statement anyway, so BEGIN and ROLLBACK would be two
    round trips per request that change nothing.
    """
    if not settings.is_sqlite:
        return engine.execution_options(isolation_level="AUTOCOMMIT")
    if make_url(settings.database_url).database in (None, "", ":memory:"):
        return engine
    return _sqlite_file_engine(settings, pool_size=settings.db_pool_size or READ_POOL_SIZE, read_only=True)


def _sqlite_file_engine(settings: Settings, *, pool_size: int, read_only: bool) -> Engine:
    engine = create_engine(
        settings.database_url,
        connect_args={"check_same_thread": False, "timeout": settings.sqlite_busy_timeout_ms / 1000},
        pool_size=pool_size,
        max_overflow=0,
        pool_timeout=60,
        hide_parameters=True,
    )
    _install_sqlite_pragmas(engine, settings.sqlite_busy_timeout_ms, read_only=read_only)
    return engine


#: How long a writer's one attempt at the write lock waits (SQLite's busy handler) before retrying.
WRITE_LOCK_POLL_MS = 2
#: Execution option: milliseconds this connection's writes wait for the SQLite write lock.
LOCK_TIMEOUT_OPTION = "sqlite_lock_timeout_ms"


def _install_sqlite_pragmas(engine: Engine, busy_timeout_ms: int, *, read_only: bool = False) -> None:
    # pysqlite's own transaction handling defers BEGIN and breaks SAVEPOINTs; SQLAlchemy documents
    # taking over: disable it on connect and emit BEGIN ourselves.
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        if read_only:
            cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
            cursor.execute("PRAGMA query_only=ON")
        else:
            cursor.execute(f"PRAGMA busy_timeout={min(int(busy_timeout_ms), WRITE_LOCK_POLL_MS)}")
        cursor.close()

    # A deferred transaction that later writes can fail with SQLITE_BUSY without waiting (its
    # snapshot is stale once another writer commits), so writers take the lock up front with
    # BEGIN IMMEDIATE; readers, which never write (query_only), take a WAL snapshot instead.
    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # Autocommit connections (readiness probes) must not queue behind writers.
        if connection.get_execution_options().get("isolation_level") == "AUTOCOMMIT":
            return
        if read_only:
            connection.exec_driver_sql("BEGIN")
        else:
            # A caller that must not wait long (the readiness write probe) sets its own limit.
            _begin_immediate(connection, connection.get_execution_options().get(LOCK_TIMEOUT_OPTION, busy_timeout_ms))


def _begin_immediate(connection: Any, busy_timeout_ms: int) -> None:
    """Take the write lock, retrying every few milliseconds until the busy timeout.

    SQLite's busy handler backs off to 100 ms sleeps, so a writer in one process that waits for
    another's lock sleeps through most of the moments it is free while the other process's next
    writer takes it again at once: under load one worker starves the other. Short waits in a
    loop keep every waiting worker within a few milliseconds of each release.
    """
    raw = connection.connection.dbapi_connection
    deadline = time.monotonic() + busy_timeout_ms / 1000
    while time.monotonic() < deadline:
        try:
            raw.execute("BEGIN IMMEDIATE")
            return
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode & 0xFF != sqlite3.SQLITE_BUSY:  # extended codes keep it in the low byte
                raise
    # Out of time: one last attempt through SQLAlchemy, which raises its usual wrapped error.
    connection.exec_driver_sql("BEGIN IMMEDIATE")


async def get_engine(request: Request) -> Engine:
    """Return the engine the running application was built with."""
    # Async although it does no I/O: FastAPI runs a synchronous dependency in a worker thread.
    return request.app.state.engine


#: Methods that never change state: their requests read through the read engine.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


#: `Session.info` key: True while the session holds a database transaction that closing must roll back.
_OPEN_ON_DATABASE = "open_on_database"


@event.listens_for(Session, "after_begin")
def _on_session_begin(session: Session, _transaction: Any, connection: Any) -> None:
    autocommit = connection.get_execution_options().get("isolation_level") == "AUTOCOMMIT"
    session.info[_OPEN_ON_DATABASE] = not autocommit


@event.listens_for(Session, "after_commit")
@event.listens_for(Session, "after_rollback")
def _on_session_end(session: Session) -> None:
    session.info[_OPEN_ON_DATABASE] = False


async def get_session(request: Request) -> AsyncIterator[Session]:
    """Yield one session per request; routes commit before they answer, this only cleans up.

    Safe-method requests get the read engine (on SQLite: deferred, read-only transactions; on a
    server: autocommit). Async so that opening the session (no I/O) costs no thread hop; closing
    one that still holds a database transaction (an error, a replayed answer) rolls it back in a
    worker thread, and any other close (a committed write, an autocommit read) does no I/O at all.
    """
    state = request.app.state
    engine = state.read_engine if request.method in SAFE_METHODS else state.engine
    session = Session(engine, expire_on_commit=False)
    try:
        yield session
    finally:
        if session.info.get(_OPEN_ON_DATABASE):
            await close_in_thread(session)
        else:
            session.close()


async def close_in_thread(session: Session) -> None:
    """Close `session` in a worker thread outside the shared thread limit.

    Every thread of the shared limit may be a request waiting for a pooled connection; the close
    that returns one must not wait for such a thread, or nobody ever gets one (as FastAPI does for
    the exit of a synchronous dependency).
    """
    await anyio.to_thread.run_sync(session.close, limiter=anyio.CapacityLimiter(1))


SessionDep = Annotated[Session, Depends(get_session)]
EngineDep = Annotated[Engine, Depends(get_engine)]


class WriteProbe(SQLModel, table=True):
    """One row per worker-independent probe name, rewritten by `/readyz` to prove writes still land."""

    __tablename__ = "write_probe"

    name: str = Field(max_length=50, primary_key=True)
    written_at: dt.datetime = Field(sa_type=UTCDateTime)
