"""Client lifecycle over HTTP (scope `admin`): create, list, read, disable, enable, rotate, delete.

Before issue 15 none of these routes existed, two clients could share a name, and a disabled
client's token kept working until it expired.
"""

from __future__ import annotations

import datetime as dt

import pytest

from app.auth.access import AccessGuard

ADMIN = "admin"


@pytest.fixture
def admin(auth):
    return auth(ADMIN, sub="ops")


@pytest.fixture
def fresh_view(app):
    """Every request re-reads disabled clients and revocations (a cache lifetime of 0)."""
    app.state.access_guard = AccessGuard(lambda: app.state.session_factory(), max_age=0)


def _create(client, admin, name="hr-system", scopes=("incidents:read",)):
    r = client.post("/v1/clients", json={"name": name, "scopes": list(scopes)}, headers=admin)
    assert r.status_code == 201, r.text
    return r


def _token(client, client_id, secret):
    form = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}
    return client.post("/v1/auth/token", data=form)


def _bearer(token_response):
    return {"Authorization": f"Bearer {token_response.json()['access_token']}"}


def test_create_shows_the_secret_once_and_never_again(client, admin):
    r = _create(client, admin)
    body = r.json()
    assert r.headers["location"] == f"/v1/clients/{body['client_id']}"
    assert body["client_secret"] and body["status"] == "active" and body["scopes"] == ["incidents:read"]
    read = client.get(r.headers["location"], headers=admin)
    assert read.status_code == 200
    assert "client_secret" not in read.json() and body["client_secret"] not in read.text
    listed = client.get("/v1/clients", headers=admin)
    assert listed.status_code == 200
    assert body["client_id"] in [c["client_id"] for c in listed.json()["items"]]
    assert body["client_secret"] not in listed.text and "scrypt" not in listed.text


def test_a_second_client_of_the_same_name_is_409(client, admin):
    first = _create(client, admin).json()
    r = client.post("/v1/clients", json={"name": "hr-system", "scopes": ["incidents:read"]}, headers=admin)
    assert r.status_code == 409
    assert r.json()["existing_client_id"] == first["client_id"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "x", "scopes": ["made:up"]}, "body.scopes.0"),
        ({"name": "x", "scopes": []}, "body.scopes"),
        ({"name": "", "scopes": ["admin"]}, "body.name"),
    ],
)
def test_bad_client_bodies_are_422_naming_the_field(client, admin, body, field):
    r = client.post("/v1/clients", json=body, headers=admin)
    assert r.status_code == 422
    assert field in {e["field"] for e in r.json()["errors"]}


def test_unknown_client_is_404_on_every_action(client, admin):
    assert client.get("/v1/clients/cli_nobody", headers=admin).status_code == 404
    for action in ("disable", "enable", "rotate"):
        assert client.post(f"/v1/clients/cli_nobody/{action}", headers=admin).status_code == 404
    assert client.delete("/v1/clients/cli_nobody", headers=admin).status_code == 404


def test_disabling_refuses_the_secret_and_the_live_token(client, admin, fresh_view):
    created = _create(client, admin).json()
    issued = _token(client, created["client_id"], created["client_secret"])
    assert client.get("/v1/incidents", headers=_bearer(issued)).status_code == 200

    r = client.post(f"/v1/clients/{created['client_id']}/disable", headers=admin)
    assert r.status_code == 200 and r.json()["status"] == "disabled" and r.json()["disabled_at"]
    refused = client.get("/v1/incidents", headers=_bearer(issued))
    assert refused.status_code == 401
    assert "disabled" in refused.json()["detail"]
    assert _token(client, created["client_id"], created["client_secret"]).status_code == 401

    assert client.post(f"/v1/clients/{created['client_id']}/enable", headers=admin).json()["status"] == "active"
    assert client.get("/v1/incidents", headers=_bearer(issued)).status_code == 200
    assert _token(client, created["client_id"], created["client_secret"]).status_code == 200


def test_deleting_refuses_the_live_token_and_the_id(client, admin, fresh_view):
    created = _create(client, admin).json()
    issued = _token(client, created["client_id"], created["client_secret"])
    assert client.delete(f"/v1/clients/{created['client_id']}", headers=admin).status_code == 204
    assert client.get("/v1/incidents", headers=_bearer(issued)).status_code == 401
    assert _token(client, created["client_id"], created["client_secret"]).status_code == 401
    assert client.get(f"/v1/clients/{created['client_id']}", headers=admin).status_code == 404


def test_a_disabled_clients_token_is_refused_within_the_cache_lifetime(app, client, admin, clock, settings):
    # The app's own guard, on the app's clock (POLICY_ACCESS_CACHE_SECONDS, 30 by default).
    assert settings.access_cache_seconds == 30
    created = _create(client, admin).json()
    issued = _token(client, created["client_id"], created["client_secret"])
    assert client.get("/v1/incidents", headers=_bearer(issued)).status_code == 200
    client.post(f"/v1/clients/{created['client_id']}/disable", headers=admin)
    clock.advance(29)  # this worker's view is still the old one
    assert client.get("/v1/incidents", headers=_bearer(issued)).status_code == 200
    clock.advance(1)  # the view's lifetime is over: the token is refused
    assert client.get("/v1/incidents", headers=_bearer(issued)).status_code == 401


def test_rotation_keeps_the_old_secret_for_the_grace_period(client, admin, settings, clock):
    created = _create(client, admin).json()
    r = client.post(f"/v1/clients/{created['client_id']}/rotate", headers=admin)
    assert r.status_code == 200
    rotated = r.json()
    assert rotated["client_secret"] != created["client_secret"]
    expires = dt.datetime.fromisoformat(rotated["previous_secret_expires_at"])
    grace = dt.timedelta(seconds=settings.client_secret_grace_seconds)
    assert expires == clock.now() + grace
    assert _token(client, created["client_id"], rotated["client_secret"]).status_code == 200
    clock.advance(grace.total_seconds() - 1)
    assert _token(client, created["client_id"], created["client_secret"]).status_code == 200  # in grace

    # The grace period ends: only the new secret works.
    clock.advance(1)
    assert _token(client, created["client_id"], created["client_secret"]).status_code == 401
    assert _token(client, created["client_id"], rotated["client_secret"]).status_code == 200
    assert rotated["client_secret"] not in client.get(f"/v1/clients/{created['client_id']}", headers=admin).text


def test_client_routes_need_the_admin_scope(client, auth):
    others = auth("incidents:read incidents:write policy:read policy:write")
    assert client.get("/v1/clients", headers=others).status_code == 403
    assert client.post("/v1/clients", json={"name": "x", "scopes": ["admin"]}, headers=others).status_code == 403


def test_a_replayed_create_or_rotation_never_repeats_the_secret(client, admin):
    headers = {**admin, "Idempotency-Key": "create-payroll-1"}
    body = {"name": "payroll", "scopes": ["incidents:read"]}
    first = client.post("/v1/clients", json=body, headers=headers)
    again = client.post("/v1/clients", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json()["client_secret"] and again.json()["client_secret"] is None
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json()["client_id"] == first.json()["client_id"]
    assert [c["name"] for c in client.get("/v1/clients", headers=admin).json()["items"]].count("payroll") == 1

    rotate_headers = {**admin, "Idempotency-Key": "rotate-payroll-1"}
    url = f"/v1/clients/{first.json()['client_id']}/rotate"
    rotated, replayed = client.post(url, headers=rotate_headers), client.post(url, headers=rotate_headers)
    assert rotated.json()["client_secret"] and replayed.json()["client_secret"] is None
    assert _token(client, first.json()["client_id"], rotated.json()["client_secret"]).status_code == 200
