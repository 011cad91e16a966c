"""Security headers on every response, and CORS only for the origins in settings."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from tests.conftest import make_settings
from tests.hardening.spec_inputs import OPERATIONS, PROTECTED

ALLOWED = "https://hr.independenceproject.example"
OTHER = "https://evil.example"


@pytest.fixture
def cors_client(settings, engine):
    app = create_app(make_settings(settings.database_url, cors_origins=[ALLOWED]), engine=engine)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


@pytest.mark.parametrize("operation", OPERATIONS, ids=[o.label for o in OPERATIONS])
def test_every_response_is_hardened(client, operation):
    r = client.request(operation.method.upper(), operation.url())
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["x-request-id"]
    if operation.path.startswith("/v1/"):
        assert "no-store" in r.headers["cache-control"], r.headers


@pytest.mark.parametrize("operation", PROTECTED, ids=[o.label for o in PROTECTED])
def test_authenticated_responses_are_not_cached(client, auth, operation):
    r = client.request(operation.method.upper(), operation.url(), headers=auth("admin"))
    assert "no-store" in r.headers["cache-control"], (r.status_code, r.headers)


def test_error_responses_are_hardened_too(client, settings):
    for r in (
        client.get("/v1/no-such-route"),
        client.delete("/v1/screenings"),
        client.post(
            "/v1/screenings", content=b"x" * (settings.max_body_bytes + 1), headers={"content-type": "application/json"}
        ),
    ):
        assert r.headers["x-content-type-options"] == "nosniff", r.status_code
        assert "no-store" in r.headers.get("cache-control", ""), r.status_code
    assert client.delete("/healthz").headers["x-content-type-options"] == "nosniff"


def test_preflight_from_an_allowed_origin_is_answered(cors_client):
    r = cors_client.options(
        "/v1/screenings",
        headers={
            "Origin": ALLOWED,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type, idempotency-key",
        },
    )
    assert r.status_code == 200, r.text
    assert r.headers["access-control-allow-origin"] == ALLOWED
    allowed_headers = r.headers["access-control-allow-headers"].lower()
    for header in ("authorization", "content-type", "idempotency-key", "if-match"):
        assert header in allowed_headers
    assert "POST" in r.headers["access-control-allow-methods"]


def test_preflight_from_another_origin_gets_no_cors_grant(cors_client):
    r = cors_client.options("/v1/screenings", headers={"Origin": OTHER, "Access-Control-Request-Method": "POST"})
    assert "access-control-allow-origin" not in r.headers
    assert r.status_code >= 400


def test_simple_request_from_an_allowed_origin_exposes_headers(cors_client):
    r = cors_client.get("/healthz", headers={"Origin": ALLOWED})
    assert r.headers["access-control-allow-origin"] == ALLOWED
    exposed = r.headers["access-control-expose-headers"].lower()
    for header in ("etag", "location", "x-request-id"):
        assert header in exposed


def test_simple_request_from_another_origin_gets_no_cors_grant(cors_client):
    r = cors_client.get("/healthz", headers={"Origin": OTHER})
    assert r.status_code == 200
    assert "access-control-allow-origin" not in r.headers


def test_no_origin_is_allowed_by_default(client):
    r = client.get("/healthz", headers={"Origin": ALLOWED})
    assert "access-control-allow-origin" not in r.headers
    r = client.options("/v1/screenings", headers={"Origin": ALLOWED, "Access-Control-Request-Method": "POST"})
    assert "access-control-allow-origin" not in r.headers


def test_credentials_are_never_allowed_with_a_wildcard(cors_client):
    r = cors_client.get("/healthz", headers={"Origin": ALLOWED})
    assert r.headers.get("access-control-allow-origin") != "*"
