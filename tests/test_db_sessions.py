"""The per-request session and the server pool: what closing costs, and when a pooled connection is checked.

A request's session is opened on the event loop; closing it there is only right when that does no
I/O, so a session still holding a database transaction must be rolled back (in a worker thread)
and one that committed or read in autocommit must not. Pooled server connections are pinged only
after sitting idle, and a dead one is replaced before a request sees it.
"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest
from sqlalchemy import create_engine, text

from app import db
from app.db import build_engine, build_read_engine, get_session
from tests.conftest import create_database, make_settings, migrate


def _request(engine, read_engine, method):
    return SimpleNamespace(
        method=method, app=SimpleNamespace(state=SimpleNamespace(engine=engine, read_engine=read_engine))
    )


async def _use(request, work):
    sessions = get_session(request)
    session = await anext(sessions)
    work(session)
    with pytest.raises(StopAsyncIteration):
        await anext(sessions)
    return session


@pytest.fixture(params=["sqlite", "postgresql"])
def engines(request, tmp_path):
    database = create_database(request.param, str(tmp_path))
    settings = make_settings(database.url)
    migrate(settings)
    engine = build_engine(settings)
    read_engine = build_read_engine(settings, engine)
    yield engine, read_engine
    read_engine.dispose()
    engine.dispose()
    database.drop()


def _probes(engine):
    with engine.connect() as connection:
        return connection.execute(text("SELECT count(*) FROM write_probe")).scalar_one()


def test_an_uncommitted_write_is_rolled_back_when_the_request_ends(engines, monkeypatch):
    engine, read_engine = engines
    closed_in_thread = []

    real_close = db.close_in_thread

    async def recording(session):
        closed_in_thread.append(session)
        await real_close(session)

    monkeypatch.setattr(db, "close_in_thread", recording)
    insert = text("INSERT INTO write_probe (name, written_at) VALUES ('left-open', CURRENT_TIMESTAMP)")
    asyncio.run(_use(_request(engine, read_engine, "POST"), lambda s: s.execute(insert)))
    assert len(closed_in_thread) == 1  # the rollback's round trip ran off the event loop
    assert _probes(engine) == 0


def test_a_committed_write_closes_without_a_thread(engines, monkeypatch):
    engine, read_engine = engines
    monkeypatch.setattr(db, "close_in_thread", None)  # any use would fail the test
    insert = text("INSERT INTO write_probe (name, written_at) VALUES ('committed', CURRENT_TIMESTAMP)")

    def write(session):
        session.execute(insert)
        session.commit()

    asyncio.run(_use(_request(engine, read_engine, "POST"), write))
    assert _probes(engine) == 1


def test_reads_on_a_server_run_in_autocommit_and_close_without_a_thread(engines, monkeypatch):
    engine, read_engine = engines
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite reads hold a WAL snapshot (a deferred transaction) that closing ends")
    monkeypatch.setattr(db, "close_in_thread", None)
    seen = []
    read = text("SELECT now() = statement_timestamp()")  # only outside a transaction block
    asyncio.run(_use(_request(engine, read_engine, "GET"), lambda s: seen.append(s.execute(read).scalar_one())))
    assert seen == [True]


def _pings(engine, monkeypatch) -> list[int]:
    pings: list[int] = []
    real_ping = engine.dialect.do_ping

    def counting_ping(conn):
        pings.append(1)
        return real_ping(conn)

    monkeypatch.setattr(engine.dialect, "do_ping", counting_ping)
    return pings


def _backend_pid(engine):
    with engine.connect() as connection:
        return connection.execute(text("SELECT pg_backend_pid()")).scalar_one()


@pytest.fixture
def server_url(tmp_path):
    database = create_database("postgresql", str(tmp_path))
    yield database.url
    database.drop()


def test_a_connection_used_a_moment_ago_is_not_pinged(server_url, monkeypatch):
    engine = build_engine(make_settings(server_url))
    pings = _pings(engine, monkeypatch)
    try:
        assert _backend_pid(engine) == _backend_pid(engine)  # the same pooled connection, twice
        assert pings == []
    finally:
        engine.dispose()


def test_an_idle_connection_the_server_dropped_is_replaced_before_use(server_url, monkeypatch):
    monkeypatch.setattr(db, "IDLE_PING_SECONDS", 0.0)  # every pooled connection counts as idle
    engine = build_engine(make_settings(server_url))
    admin = create_engine(server_url)
    pings = _pings(engine, monkeypatch)
    try:
        pid = _backend_pid(engine)
        # The server drops the pooled connection while it sits idle (a restart, a proxy's timeout).
        with admin.connect() as connection:
            assert connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar_one()
        assert _backend_pid(engine) != pid  # pinged, found dead, replaced: the request never saw it
        assert pings
    finally:
        engine.dispose()
        admin.dispose()


def test_requests_waiting_for_a_connection_never_starve_the_close_that_frees_one(tmp_path):
    # One read connection and two threads: every thread can be a request waiting for the
    # connection, so the close that returns it must not need one of those threads.
    import anyio
    import httpx

    from app.auth.tokens import create_access_token
    from app.main import create_app

    database = create_database("sqlite", str(tmp_path))
    settings = make_settings(database.url, db_pool_size=1)
    migrate(settings)
    app = create_app(settings)
    token = create_access_token(settings, sub="reader", scopes=["incidents:read"])

    async def main():
        anyio.to_thread.current_default_thread_limiter().total_tokens = 2
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 1234))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            with anyio.fail_after(20):  # the starved close held the pool for its 60 s timeout
                responses = await asyncio.gather(
                    *(client.get("/v1/incidents", headers={"Authorization": f"Bearer {token}"}) for _ in range(8))
                )
        return [r.status_code for r in responses]

    try:
        assert asyncio.run(main()) == [200] * 8
    finally:
        app.state.engine.dispose()
        app.state.read_engine.dispose()
