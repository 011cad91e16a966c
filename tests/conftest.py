"""Shared fixtures: one migrated database per run, one rolled-back transaction per test.

The database is SQLite (a file in a temporary folder) unless DATABASE_URL names PostgreSQL, in
which case the run gets its own fresh schema, dropped at the end. Tests whose subject *is* the
transaction (concurrency, durability, migrations) use `fresh_database` for a database of their own.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any, TypeGuard

import pytest
from alembic import command
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlmodel import Session

from app.auth.tokens import create_access_token
from app.clock import FakeClock
from app.db import build_engine, get_session
from app.main import create_app
from app.migrations_state import alembic_config
from app.settings import Settings

DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def _configured_url() -> str | None:
    return os.environ.get("DATABASE_URL")


def _is_pg(url: str | None) -> TypeGuard[str]:
    return url is not None and url.startswith("postgresql")


def postgres_base_url() -> str | None:
    """Return a reachable PostgreSQL URL (DATABASE_URL or the local default), or None."""
    configured = _configured_url()
    url = configured if _is_pg(configured) else os.environ.get("TEST_POSTGRES_URL", DEFAULT_PG_URL)
    try:
        engine = create_engine(url, connect_args={"connect_timeout": 2})
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        engine.dispose()
        return url
    except Exception:
        return None


@dataclass
class Database:
    """A database created for tests: its URL and how to drop it."""

    url: str
    dialect: str
    drop: Callable[[], None]


def create_database(kind: str, tmp_dir: str) -> Database:
    """Create an empty database of `kind` ('sqlite' or 'postgresql') that nothing else uses.

    TEST_DIALECTS (comma-separated, default both) limits the kinds besides the suite's own database:
    CI runs the suite once per database with TEST_DIALECTS set to that database, so a test made for
    both kinds runs once each.
    """
    selected = os.environ.get("TEST_DIALECTS", "sqlite,postgresql").replace(" ", "").split(",")
    if kind != MAIN_DIALECT and kind not in selected:
        pytest.skip(f"{kind} variants run in the suite for that database (TEST_DIALECTS={','.join(selected)})")
    if kind == "sqlite":
        path = os.path.join(tmp_dir, f"db-{uuid.uuid4().hex[:8]}.sqlite")
        return Database(url=f"sqlite:///{path}", dialect="sqlite", drop=lambda: None)
    base = postgres_base_url()
    if base is None:
        pytest.skip("PostgreSQL is not reachable (set DATABASE_URL or start it on 127.0.0.1:5432)")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))

    def drop() -> None:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()

    url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
    return Database(url=url.render_as_string(hide_password=False), dialect="postgresql", drop=drop)


def migrate(settings: Settings, direction: str = "upgrade", target: str = "head") -> None:
    """Run Alembic against `settings.database_url`."""
    config = alembic_config(settings, database_url=settings.database_url)
    config.attributes["configure_logger"] = False
    getattr(command, direction)(config, target)


def make_settings(url: str, **overrides: Any) -> Settings:
    """Test settings for a database URL."""
    # The background sealer and purge are off: tests that count audit events seal and purge explicitly.
    values: dict[str, Any] = {
        "env": "test",
        "database_url": url,
        "db_pool_size": 5,
        "log_level": "WARNING",
        "audit_seal_interval_seconds": 0,
        "purge_interval_seconds": 0,
        "token_refusal_delay_seconds": 0,
    }
    values.update(overrides)
    return Settings(**values)


def hold_then_wait(engine: Engine, first: Callable[[Session], None], second: Callable[[Session], None]) -> None:
    """Run ``first`` in a transaction left open while ``second`` starts in another and must wait for it.

    Fails if ``second`` did not wait (the lock it should queue on was not taken); commits ``first``,
    then lets ``second`` finish and commit.
    """
    with Session(engine) as holder:
        first(holder)

        def then() -> None:
            with Session(engine) as waiter:
                second(waiter)
                waiter.commit()

        thread = threading.Thread(target=then)
        thread.start()
        thread.join(timeout=0.5)
        assert thread.is_alive(), "the second transaction did not wait for the first"
        holder.commit()
    thread.join(timeout=30)
    assert not thread.is_alive(), "the second transaction did not finish"


MAIN_DIALECT = "postgresql" if _is_pg(_configured_url()) else "sqlite"


@pytest.fixture(scope="session")
def database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    db = create_database(MAIN_DIALECT, str(tmp_path_factory.mktemp("db")))
    yield db
    db.drop()


@pytest.fixture(scope="session")
def settings(database: Database) -> Settings:
    return make_settings(database.url)


@pytest.fixture(scope="session")
def engine(settings: Settings) -> Iterator[Engine]:
    migrate(settings)
    engine = build_engine(settings)
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """A session inside an outer transaction that is rolled back after the test."""
    connection = engine.connect()
    outer = connection.begin()
    session = Session(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
    try:
        yield session
    finally:
        session.close()
        outer.rollback()
        connection.close()


@pytest.fixture
def clock() -> FakeClock:
    """The app's clock: it starts at the real time and moves only when a test moves it."""
    return FakeClock()


@pytest.fixture
def app(settings: Settings, engine: Engine, session: Session, clock: FakeClock) -> FastAPI:
    application = create_app(settings, engine=engine, clock=clock)

    def _session() -> Iterator[Session]:
        yield session

    application.dependency_overrides[get_session] = _session
    # The token endpoint and the access snapshot open short sessions of their own; here they share
    # the test's transaction (nullcontext: the test's session is not closed after each use).
    application.state.session_factory = application.state.read_session_factory = lambda: nullcontext(session)
    return application


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


TokenFactory = Callable[..., dict[str, str]]


@pytest.fixture
def auth(settings: Settings, clock: FakeClock) -> TokenFactory:
    """Return `auth("scope a", sub="x")` -> Authorization headers for a token fresh on the app's clock."""

    def make(scopes: str = "", *, sub: str = "tester", **kwargs: Any) -> dict[str, str]:
        kwargs.setdefault("now", clock.now().timestamp())
        token = create_access_token(settings, sub=sub, scopes=scopes.split(), **kwargs)
        return {"Authorization": f"Bearer {token}"}

    return make


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_database(request: pytest.FixtureRequest, tmp_path: object) -> Iterator[Database]:
    """A brand-new, migrated database of each kind (PostgreSQL skips when unreachable)."""
    db = create_database(request.param, str(tmp_path))
    migrate(make_settings(db.url))
    yield db
    db.drop()
