"""Limits and failure modes (issue 15): oversized headers, timestamps out of range, a database that is
unreachable, read-only or full. Each answered 200-with-the-cost, or 500, before."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event
from sqlalchemy.engine import make_url

from app.main import create_app
from tests.conftest import make_settings, migrate
from tests.incidents.factories import incident_body

ALL_READ = "incidents:read incidents:write screenings:read authorities:write"


@pytest.mark.parametrize("header", ["Authorization", "X-Padding"])
def test_oversized_headers_are_431(client, settings, header):
    value = (
        "Bearer " + "a" * settings.max_header_bytes if header == "Authorization" else "a" * settings.max_header_bytes
    )
    r = client.get("/v1/incidents", headers={header: value})
    assert r.status_code == 431
    body = r.json()
    assert r.headers["content-type"].startswith("application/problem+json")
    assert body["limit_bytes"] == settings.max_header_bytes and body["request_id"]


def test_headers_under_the_limit_pass(client, auth):
    r = client.get("/v1/incidents", headers={**auth("incidents:read"), "X-Padding": "a" * 4000})
    assert r.status_code == 200


EDGE_TIMES = ["0001-01-01T00:00:00+01:00", "9999-12-31T23:00:00-05:00", "1850-06-01T00:00:00Z"]


@pytest.mark.parametrize("when", EDGE_TIMES)
def test_out_of_range_timestamps_in_a_body_are_422_naming_the_field(client, auth, when):
    r = client.post("/v1/incidents", json=incident_body(posted_at=when), headers=auth(ALL_READ))
    assert r.status_code == 422, r.text
    assert [e["field"] for e in r.json()["errors"]] == ["body.posted_at"]


@pytest.mark.parametrize("when", EDGE_TIMES)
@pytest.mark.parametrize(
    ("path", "param"),
    [("/v1/incidents", "posted_from"), ("/v1/incidents", "created_to"), ("/v1/screenings", "created_from")],
)
def test_out_of_range_timestamps_in_a_query_are_422_naming_the_field(client, auth, when, path, param):
    r = client.get(path, params={param: when}, headers=auth(ALL_READ))
    assert r.status_code == 422, r.text
    assert [e["field"] for e in r.json()["errors"]] == [f"query.{param}"]


@pytest.mark.parametrize("when", EDGE_TIMES[:2])
def test_out_of_range_authority_end_is_422(client, auth, when):
    body = {"person_id": "emp-1", "topic": "fundraising", "valid_until": when}
    r = client.post("/v1/authorities", json=body, headers=auth(ALL_READ))
    assert r.status_code == 422, r.text
    assert "body.valid_until" in {e["field"] for e in r.json()["errors"]}


def _assert_503(r, reason):
    assert r.status_code == 503, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert int(r.headers["retry-after"]) > 0
    assert r.json()["database"] == reason


def _read_only_url(url: str, dialect: str) -> str:
    if dialect == "sqlite":
        return f"sqlite:///file:{make_url(url).database}?mode=ro&uri=true"
    parsed = make_url(url)
    options = parsed.query["options"]
    assert isinstance(options, str), "one options parameter"
    options += " -cdefault_transaction_read_only=on"
    return parsed.update_query_dict({"options": options}).render_as_string(hide_password=False)


def test_a_read_only_database_is_503_and_not_ready(fresh_database, auth):
    url = _read_only_url(fresh_database.url, fresh_database.dialect)
    app = create_app(make_settings(url))
    with TestClient(app, raise_server_exceptions=False) as client:
        assert client.get("/v1/incidents", headers=auth("incidents:read")).status_code == 200  # reads still work
        _assert_503(client.post("/v1/incidents", json=incident_body(), headers=auth(ALL_READ)), "read-only")
        ready = client.get("/readyz")
        _assert_503(ready, "ok")
        assert ready.json()["writes"] == "read-only"
    app.state.engine.dispose()


def test_a_full_sqlite_database_is_503_and_not_ready(tmp_path, auth):
    settings = make_settings(f"sqlite:///{tmp_path}/full.db")
    migrate(settings)
    app = create_app(settings)

    @event.listens_for(app.state.engine, "connect")
    def _no_more_pages(dbapi_connection, _record):
        # What a full disk looks like to SQLite: no page can be added (SQLITE_FULL).
        pages = dbapi_connection.execute("PRAGMA page_count").fetchone()[0]
        dbapi_connection.execute(f"PRAGMA max_page_count={pages}")

    with TestClient(app, raise_server_exceptions=False) as client:
        statuses = [
            client.post("/v1/incidents", json=incident_body(summary="x" * 2000), headers=auth(ALL_READ)).status_code
            for _ in range(5)
        ]
        assert 503 in statuses and not {s for s in statuses if s >= 500} - {503}, statuses
        ready = client.get("/readyz")
    app.state.engine.dispose()
    assert ready.status_code == 503, ready.text
    assert ready.json()["writes"] in {"full", "failing"}


@pytest.mark.parametrize("kind", ["postgresql-refused", "sqlite-unopenable"])
def test_an_unreachable_database_is_503_with_retry_after(kind, auth, tmp_path):
    if kind == "postgresql-refused":
        url = "postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=1"
    else:
        url = f"sqlite:///{tmp_path}"  # a directory: SQLite cannot open it as a database
    app = create_app(make_settings(url))
    with TestClient(app, raise_server_exceptions=False) as client:
        _assert_503(client.get("/v1/incidents", headers=auth("incidents:read")), "unreachable")
        _assert_503(client.post("/v1/incidents", json=incident_body(), headers=auth(ALL_READ)), "unreachable")
