"""POST /v1/auth/token: client credentials, scope narrowing, failures and rate limiting."""

import pytest
from sqlmodel import select

from app.auth import service
from app.auth.models import ApiClient
from app.auth.tokens import decode_token


@pytest.fixture
def registered(session, settings):
    created = service.create_client(
        session=session,
        name="hr-system",
        scopes="incidents:write screenings:read",
        pepper=settings.secret_key,
        actor="test",
    )
    session.commit()
    return created


def _form(registered, **overrides):
    data = {
        "grant_type": "client_credentials",
        "client_id": registered.client_id,
        "client_secret": registered.client_secret,
    }
    data.update(overrides)
    return data


def test_client_credentials_issue_a_working_token(client, registered, settings):
    r = client.post("/v1/auth/token", data=_form(registered))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == settings.access_token_ttl_seconds
    assert body["scope"] == "incidents:write screenings:read"
    principal = decode_token(settings, body["access_token"])
    assert principal.sub == registered.client_id
    assert principal.scopes == {"incidents:write", "screenings:read"}
    assert r.headers["cache-control"] == "no-store"


def test_secret_is_stored_hashed(session, registered):
    row = session.exec(select(ApiClient).where(ApiClient.client_id == registered.client_id)).one()
    assert registered.client_secret not in row.secret_hash
    assert row.secret_hash.startswith("scrypt$")


def test_scope_can_be_narrowed(client, registered):
    r = client.post("/v1/auth/token", data=_form(registered, scope="incidents:write"))
    assert r.status_code == 200
    assert r.json()["scope"] == "incidents:write"


@pytest.mark.parametrize("scope", ["admin", "incidents:write admin", "made:up"])
def test_scope_outside_the_clients_is_400(client, registered, scope):
    r = client.post("/v1/auth/token", data=_form(registered, scope=scope))
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_scope"


def test_wrong_secret_is_401(client, registered):
    r = client.post("/v1/auth/token", data=_form(registered, client_secret="wrong"))
    assert r.status_code == 401
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["error"] == "invalid_client"


def test_unknown_client_is_401(client, registered):
    r = client.post("/v1/auth/token", data=_form(registered, client_id="cli_nobody"))
    assert r.status_code == 401


def test_unsupported_grant_type_is_400(client, registered):
    r = client.post("/v1/auth/token", data=_form(registered, grant_type="password"))
    assert r.status_code == 400
    assert r.json()["error"] == "unsupported_grant_type"


def test_missing_fields_are_400_invalid_request_naming_them(client):
    r = client.post("/v1/auth/token", data={"grant_type": "client_credentials"})
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_request"
    fields = {e["field"] for e in r.json()["errors"]}
    assert {"body.client_id", "body.client_secret"} <= fields


def test_disabled_client_is_refused(client, session, registered):
    from app.db import utcnow

    row = session.exec(select(ApiClient).where(ApiClient.client_id == registered.client_id)).one()
    row.disabled_at = utcnow()
    session.add(row)
    session.commit()
    assert client.post("/v1/auth/token", data=_form(registered)).status_code == 401


def test_failed_attempts_are_rate_limited(client, registered, settings, clock):
    for _ in range(settings.token_failures_per_minute):
        assert client.post("/v1/auth/token", data=_form(registered, client_secret="nope")).status_code == 401
    clock.advance(0.5)
    r = client.post("/v1/auth/token", data=_form(registered))
    assert r.status_code == 429
    assert r.headers["retry-after"] == "60"  # 59.5 seconds, rounded up
    clock.advance(59)
    assert client.post("/v1/auth/token", data=_form(registered)).status_code == 429
    clock.advance(1)  # the lock-out and the one-minute window are over
    assert client.post("/v1/auth/token", data=_form(registered)).status_code == 200


def test_successes_and_refusals_do_not_use_up_the_limit(client, registered, settings, session):
    from app.auth.models import AuthFailure

    limit = settings.token_failures_per_minute
    for _ in range(limit - 1):
        assert client.post("/v1/auth/token", data=_form(registered, client_secret="nope")).status_code == 401
    # Each attempt is counted before its secret is checked; a success withdraws its count.
    for _ in range(3):
        assert client.post("/v1/auth/token", data=_form(registered)).status_code == 200
    assert client.post("/v1/auth/token", data=_form(registered, client_secret="nope")).status_code == 401
    # Past the limit: refused unchecked, and the refusal is not counted either.
    assert client.post("/v1/auth/token", data=_form(registered)).status_code == 429
    prefix = f"client:{registered.client_id}@"  # counted per (client id, address)
    counted = [row for row in session.exec(select(AuthFailure)).all() if row.key.startswith(prefix)]
    assert len(counted) == limit
