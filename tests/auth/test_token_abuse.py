"""The token endpoint's defences, one attack at a time (in-process; the flood itself is test_token_flood.py).

Each test here failed on the code before issue 15: hashing held a pooled connection, ten failures
for a client id locked it out from every address, a NAT shared one lockout, nothing capped how
many hashes ran at once, and HTTP Basic client authentication was a 422.
"""

from __future__ import annotations

import base64
import time
from contextlib import nullcontext

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from app.auth import service
from app.main import create_app
from app.settings import Settings
from tests.conftest import make_settings, migrate


@pytest.fixture
def registered(session, settings):
    created = service.create_client(
        session=session, name="hr-system", scopes="incidents:read", pepper=settings.secret_key, actor="test"
    )
    session.commit()
    return created


def _form(client_id: str, secret: str, **extra: str) -> dict[str, str]:
    return {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret, **extra}


def _from(app, address: str) -> TestClient:
    return TestClient(app, raise_server_exceptions=False, client=(address, 40000))


def test_rightful_client_is_not_locked_out_by_failures_from_elsewhere(app, registered, settings):
    attacker, rightful = _from(app, "203.0.113.66"), _from(app, "192.0.2.10")
    for _ in range(settings.token_failures_per_minute):
        assert attacker.post("/v1/auth/token", data=_form(registered.client_id, "nope")).status_code == 401
    refused = attacker.post("/v1/auth/token", data=_form(registered.client_id, registered.client_secret))
    assert refused.status_code == 429
    assert refused.json()["error"] == "temporarily_unavailable"  # not invalid_client: the secret was right
    assert refused.json()["error_description"]
    assert int(refused.headers["retry-after"]) >= 1
    r = rightful.post("/v1/auth/token", data=_form(registered.client_id, registered.client_secret))
    assert r.status_code == 200, r.text


def test_clients_behind_one_nat_do_not_share_a_lockout(app, session, registered, settings):
    other = service.create_client(
        session=session, name="payroll", scopes="incidents:read", pepper=settings.secret_key, actor="test"
    )
    session.commit()
    assert other.client_secret is not None  # a new client always shows its secret
    nat = _from(app, "198.51.100.7")
    for _ in range(settings.token_failures_per_minute):
        nat.post("/v1/auth/token", data=_form(registered.client_id, "nope"))
    r = nat.post("/v1/auth/token", data=_form(other.client_id, other.client_secret))
    assert r.status_code == 200, r.text


def test_one_address_trying_many_client_ids_is_limited(settings, engine, session, registered):
    app = create_app(settings.model_copy(update={"token_address_failures_per_minute": 4}), engine=engine)
    app.state.session_factory = app.state.read_session_factory = lambda: nullcontext(session)
    scanner = _from(app, "203.0.113.99")
    statuses = [scanner.post("/v1/auth/token", data=_form(f"cli_guess{n:04d}", "nope")).status_code for n in range(6)]
    assert statuses == [401, 401, 401, 401, 429, 429]


def test_forwarded_for_is_ignored_unless_the_peer_is_a_trusted_proxy(app, registered, settings):
    direct = _from(app, "203.0.113.66")
    for n in range(settings.token_failures_per_minute + 2):
        # A new X-Forwarded-For each time: without trusted proxies it must not make a new address.
        direct.post(
            "/v1/auth/token",
            data=_form(registered.client_id, "nope"),
            headers={"X-Forwarded-For": f"10.9.8.{n}"},
        )
    r = direct.post("/v1/auth/token", data=_form(registered.client_id, "nope"))
    assert r.status_code == 429


def test_secret_hash_runs_with_no_database_connection_checked_out(fresh_database, monkeypatch):
    settings = make_settings(fresh_database.url, db_pool_size=2)
    migrate(settings)
    app = create_app(settings)
    engine = app.state.engine
    with Session(engine) as session:
        created = service.create_client(
            session=session, name="hr", scopes="incidents:read", pepper=settings.secret_key, actor="test"
        )
        session.commit()
    assert created.client_secret is not None  # a new client always shows its secret
    seen: list[int] = []
    real_verify = service.verify_secret

    def watched_verify(*args, **kwargs):
        seen.append(engine.pool.checkedout())
        return real_verify(*args, **kwargs)

    monkeypatch.setattr(service, "verify_secret", watched_verify)
    with TestClient(app, raise_server_exceptions=False) as client:
        assert client.post("/v1/auth/token", data=_form(created.client_id, "nope")).status_code == 401
        assert client.post("/v1/auth/token", data=_form(created.client_id, created.client_secret)).status_code == 200
    engine.dispose()
    assert seen and set(seen) == {0}, seen


def test_hashes_past_the_budget_get_429_with_retry_after(app, client, registered):
    budget = app.state.hash_budget
    held = 0
    while budget.try_acquire():  # every slot busy, as under a flood
        held += 1
    try:
        r = client.post("/v1/auth/token", data=_form(registered.client_id, registered.client_secret))
    finally:
        for _ in range(held):
            budget.release()
    assert r.status_code == 429
    assert r.headers["retry-after"] == "1"
    assert r.json()["error"] == "temporarily_unavailable"
    assert client.post("/v1/auth/token", data=_form(registered.client_id, registered.client_secret)).status_code == 200


def test_refused_requests_are_answered_late(settings, engine, session, registered):
    """A refusal waits `token_refusal_delay_seconds`, so a client retrying at once is slowed down."""
    app = create_app(settings.model_copy(update={"token_refusal_delay_seconds": 0.3}), engine=engine)
    app.state.session_factory = app.state.read_session_factory = lambda: nullcontext(session)
    budget = app.state.hash_budget
    while budget.try_acquire():
        pass
    with TestClient(app, raise_server_exceptions=False) as client:
        started = time.perf_counter()
        r = client.post("/v1/auth/token", data=_form(registered.client_id, registered.client_secret))
    assert r.status_code == 429
    assert time.perf_counter() - started >= 0.15  # 0.3 s with up to 50 % jitter


def _basic(client_id: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


def test_client_secret_basic_is_accepted(client, registered):
    r = client.post(
        "/v1/auth/token",
        data={"grant_type": "client_credentials"},
        headers=_basic(registered.client_id, registered.client_secret),
    )
    assert r.status_code == 200, r.text
    assert r.json()["scope"] == "incidents:read"


def test_wrong_basic_secret_is_401_with_a_basic_challenge(client, registered):
    r = client.post(
        "/v1/auth/token", data={"grant_type": "client_credentials"}, headers=_basic(registered.client_id, "nope")
    )
    assert r.status_code == 401
    assert r.headers["www-authenticate"].startswith("Basic")
    body = r.json()
    assert body["error"] == "invalid_client" and body["error_description"]


@pytest.mark.parametrize(
    ("data", "headers", "error"),
    [
        ({}, {}, "invalid_request"),
        ({"grant_type": "password"}, {}, "unsupported_grant_type"),
        ({"grant_type": "client_credentials", "client_id": "x" * 65, "client_secret": "s"}, {}, "invalid_request"),
        ({"grant_type": "client_credentials", "scope": "made:up"}, "basic", "invalid_scope"),
        ({"grant_type": "client_credentials", "client_secret": "also-here"}, "basic", "invalid_request"),
        ({"grant_type": "client_credentials"}, {"Authorization": "Bearer abc"}, "invalid_request"),
    ],
)
def test_every_token_failure_is_an_rfc6749_error(client, registered, data, headers, error):
    if headers == "basic":
        headers = _basic(registered.client_id, registered.client_secret)
    r = client.post("/v1/auth/token", data=data, headers=headers)
    assert r.status_code == 400, r.text
    body = r.json()
    assert body["error"] == error
    assert body["error_description"]


def test_malformed_basic_credentials_are_invalid_client(client):
    r = client.post("/v1/auth/token", data={"grant_type": "client_credentials"}, headers={"Authorization": "Basic %%%"})
    assert r.status_code == 401
    assert r.json()["error"] == "invalid_client"
    assert r.headers["www-authenticate"].startswith("Basic")


def test_settings_refuse_a_bad_trusted_proxy_entry():
    with pytest.raises(ValueError, match="POLICY_TRUSTED_PROXIES"):
        Settings(trusted_proxies=["not-an-address"])


def test_a_json_body_is_415_with_an_rfc6749_error(client, registered):
    body = {"grant_type": "client_credentials", "client_id": registered.client_id, "client_secret": "x"}
    r = client.post("/v1/auth/token", json=body)
    assert r.status_code == 415
    assert r.json()["error"] == "invalid_request" and r.json()["error_description"]
    assert r.headers["accept-post"] == "application/x-www-form-urlencoded"
