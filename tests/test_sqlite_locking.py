"""SQLite: reads never wait for the write lock; writers still queue on it instead of failing.

A raw connection holds the write lock (`BEGIN IMMEDIATE`, as another worker's write would) while
the app, with its real session dependency and engines, answers reads. Before reads had their own
deferred, read-only connections, every GET began `BEGIN IMMEDIATE` and waited out the busy timeout.
"""

from __future__ import annotations

import sqlite3
import threading
import time

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from app.auth.tokens import create_access_token
from app.db import build_engine, build_read_engine
from app.main import create_app
from tests.conftest import create_database, make_settings, migrate
from tests.incidents.factories import incident_body

BUSY_TIMEOUT_MS = 5_000
SCOPES = ["policy:read", "incidents:read", "incidents:write", "escalations:read", "screenings:read"]


@pytest.fixture
def sqlite_app(tmp_path):
    db = create_database("sqlite", str(tmp_path))
    settings = make_settings(db.url, sqlite_busy_timeout_ms=BUSY_TIMEOUT_MS, db_pool_size=None)
    migrate(settings)
    app = create_app(settings)  # no engine passed: the production write and read engines
    token = create_access_token(settings, sub="hr-reader", scopes=SCOPES)
    with TestClient(app, raise_server_exceptions=False) as client:
        client.headers["Authorization"] = f"Bearer {token}"
        yield client, make_url(db.url).database, settings


def _hold_write_lock(path: str) -> sqlite3.Connection:
    holder = sqlite3.connect(path, isolation_level=None, timeout=0)
    holder.execute("BEGIN IMMEDIATE")
    holder.execute("INSERT INTO auth_failure (id, key, failed_at) VALUES (424242, 'lock-holder', '2026-01-01')")
    return holder


def test_reads_answer_promptly_while_another_writer_holds_the_lock(sqlite_app):
    client, path, _ = sqlite_app
    created = client.post("/v1/incidents", json=incident_body("vol-lock"))
    assert created.status_code == 201, created.text
    holder = _hold_write_lock(path)
    try:
        for url in (
            "/v1/policy",
            "/v1/incidents?limit=20",
            f"/v1/incidents/{created.json()['id']}",
            "/v1/escalations/vol-lock",
            "/v1/screenings",
            "/readyz",
        ):
            started = time.perf_counter()
            response = client.get(url)
            elapsed = time.perf_counter() - started
            assert response.status_code == 200, (url, response.text)
            assert elapsed < 1.0, f"GET {url} took {elapsed:.2f}s behind the write lock"
        # Reads see what was committed before the lock was taken, never the holder's open transaction.
        assert [i["id"] for i in client.get("/v1/incidents").json()["items"]] == [created.json()["id"]]
    finally:
        holder.rollback()
        holder.close()


def test_a_writer_queues_behind_the_lock_and_succeeds_once_released(sqlite_app):
    client, path, _ = sqlite_app
    holder = _hold_write_lock(path)
    responses: list[httpx.Response] = []
    elapsed: list[float] = []

    def post() -> None:
        started = time.perf_counter()
        responses.append(client.post("/v1/incidents", json=incident_body("vol-queue")))
        elapsed.append(time.perf_counter() - started)

    writer = threading.Thread(target=post)
    writer.start()
    time.sleep(0.5)
    assert writer.is_alive(), "the write did not wait for the lock"
    # Reads still answer while that writer waits (on its own process's writer connection).
    assert client.get("/v1/policy").status_code == 200
    holder.commit()
    holder.close()
    writer.join(timeout=BUSY_TIMEOUT_MS / 1000)
    assert responses and elapsed, "the writer did not finish within the busy timeout"
    assert responses[0].status_code == 201, responses[0].text
    assert 0.4 < elapsed[0] < BUSY_TIMEOUT_MS / 1000


def test_a_writer_gives_up_with_the_usual_error_after_the_busy_timeout(sqlite_app):
    _, path, settings = sqlite_app
    engine = build_engine(settings.model_copy(update={"sqlite_busy_timeout_ms": 300}))
    holder = _hold_write_lock(path)
    try:
        started = time.perf_counter()
        with pytest.raises(OperationalError, match="database is locked"):
            with engine.begin() as connection:
                connection.execute(text("DELETE FROM auth_failure"))
        assert 0.3 <= time.perf_counter() - started < 3
    finally:
        holder.rollback()
        holder.close()
        engine.dispose()


def test_read_connections_refuse_writes(sqlite_app):
    _, _, settings = sqlite_app
    engine = build_engine(settings)
    read_engine = build_read_engine(settings, engine)
    try:
        assert read_engine is not engine
        with read_engine.connect() as connection:
            with pytest.raises(OperationalError, match="readonly"):
                connection.execute(text("DELETE FROM auth_failure"))
    finally:
        read_engine.dispose()
        engine.dispose()


def test_memory_reads_through_the_write_engine_and_postgres_through_its_pool_in_autocommit():
    memory = create_engine("sqlite://")
    assert build_read_engine(make_settings("sqlite://"), memory) is memory
    memory.dispose()
    settings = make_settings("postgresql+psycopg://u@127.0.0.1/x")
    engine = build_engine(settings)
    read_engine = build_read_engine(settings, engine)
    assert read_engine.pool is engine.pool
    assert read_engine.get_execution_options()["isolation_level"] == "AUTOCOMMIT"
    assert "isolation_level" not in engine.get_execution_options()
