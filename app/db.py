"""Database engine, session dependency and portable column types.

SQLite (default, zero set-up) and PostgreSQL (production) behave the same way for the service:
every write transaction on SQLite starts with ``BEGIN IMMEDIATE`` so that concurrent writers queue
on the database lock instead of failing half-way through, which is what PostgreSQL row locks and
conditional updates give us there.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import DateTime, Engine, MetaData, create_engine, event
from sqlalchemy.engine import make_url
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


def build_engine(settings: Settings) -> Engine:
    """Create the one engine a process uses, tuned for the configured database."""
    url = settings.database_url
    if settings.is_sqlite and make_url(url).database in (None, "", ":memory:"):
        # One shared in-memory database (tooling such as the OpenAPI generator).
        engine = create_engine(url, connect_args={"check_same_thread": False}, poolclass=StaticPool)
        _install_sqlite_pragmas(engine, settings.sqlite_busy_timeout_ms)
        return engine
    if settings.is_sqlite:
        _prepare_sqlite_file(url)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": settings.sqlite_busy_timeout_ms / 1000},
            pool_size=settings.db_pool_size or 1,
            max_overflow=0,
            pool_timeout=60,
        )
        _install_sqlite_pragmas(engine, settings.sqlite_busy_timeout_ms)
        return engine
    return create_engine(
        url,
        pool_size=settings.db_pool_size or 5,
        max_overflow=10,
        pool_pre_ping=True,
    )


def _install_sqlite_pragmas(engine: Engine, busy_timeout_ms: int) -> None:
    # pysqlite's own transaction handling defers BEGIN and breaks SAVEPOINTs; SQLAlchemy documents
    # taking over: disable it on connect and emit BEGIN ourselves.
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # Autocommit connections (readiness probes) must not queue behind writers.
        if connection.get_execution_options().get("isolation_level") == "AUTOCOMMIT":
            return
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def get_engine(request: Request) -> Engine:
    """Return the engine the running application was built with."""
    return request.app.state.engine


def get_session(request: Request) -> Iterator[Session]:
    """Yield one session per request; routes commit before they answer, this only cleans up."""
    with Session(request.app.state.engine, expire_on_commit=False) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]
EngineDep = Annotated[Engine, Depends(get_engine)]


class WriteProbe(SQLModel, table=True):
    """One row per worker-independent probe name, rewritten by `/readyz` to prove writes still land."""

    __tablename__ = "write_probe"

    name: str = Field(max_length=50, primary_key=True)
    written_at: dt.datetime = Field(sa_type=UTCDateTime)
