"""Tokens: unknown scopes and over-long lifetimes are refused at minting and at use; single tokens
can be revoked by `jti`; over-long tokens are not read.

Use-time refusals are 401 (`invalid_token`): a token carrying a scope the service does not know, or
a lifetime over `POLICY_MAX_TOKEN_TTL_SECONDS`, was not minted by this service's rules, so it is
not a valid token at all (403 stays for a valid token that lacks the operation's scope).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
from jose import jwt

from app.auth.access import AccessGuard
from app.auth.tokens import create_access_token

SEVENTY_FIVE_YEARS = 75 * 365 * 86_400


def _signed(settings, **claims):
    now = int(time.time())
    base = {
        "sub": "x",
        "scope": "incidents:read",
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        "jti": "j" * 32,
    }
    base.update(claims)
    base = {k: v for k, v in base.items() if v is not ...}
    return {"Authorization": "Bearer " + jwt.encode(base, settings.jwt_secret, algorithm="HS256")}


def test_a_token_with_an_unknown_scope_is_refused_at_use(client, settings):
    r = client.get("/v1/incidents", headers=_signed(settings, scope="incidents:read everything"))
    assert r.status_code == 401
    assert "unknown scope" in r.json()["detail"]


def test_a_75_year_token_is_refused_at_use(client, settings):
    now = int(time.time())
    r = client.get("/v1/incidents", headers=_signed(settings, iat=now, exp=now + SEVENTY_FIVE_YEARS))
    assert r.status_code == 401
    assert "lifetime" in r.json()["detail"]


@pytest.mark.parametrize("iat", [None, ...], ids=["null", "missing"])
def test_a_token_without_iat_is_refused(client, settings, iat):
    r = client.get("/v1/incidents", headers=_signed(settings, iat=iat))
    assert r.status_code == 401


def test_minting_refuses_unknown_scopes_and_long_lifetimes(settings):
    with pytest.raises(ValueError, match="unknown scope"):
        create_access_token(settings, sub="x", scopes=["everything"])
    with pytest.raises(ValueError, match="lifetime"):
        create_access_token(settings, sub="x", scopes=["incidents:read"], ttl_seconds=SEVENTY_FIVE_YEARS)


def test_cli_refuses_a_75_year_token():
    env = {k: v for k, v in os.environ.items() if not k.startswith("POLICY_")}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "app",
            "token",
            "--sub",
            "me",
            "--scopes",
            "policy:read",
            "--ttl",
            str(SEVENTY_FIVE_YEARS),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode == 2
    assert "lifetime" in result.stderr and result.stdout == ""


def test_an_over_long_bearer_token_is_refused_unread(client, settings):
    r = client.get("/v1/incidents", headers={"Authorization": "Bearer " + "a" * (settings.max_token_chars + 1)})
    assert r.status_code == 401
    assert str(settings.max_token_chars) in r.json()["detail"]


@pytest.fixture
def fresh_view(app):
    app.state.access_guard = AccessGuard(lambda: app.state.session_factory(), max_age=0)


def test_revoking_one_token_by_jti_leaves_the_others(client, auth, settings, fresh_view):
    from app.auth.tokens import decode_token

    admin = auth("admin", sub="ops")
    doomed, kept = auth("incidents:read"), auth("incidents:read")
    jti = decode_token(settings, doomed["Authorization"].split()[1]).jti
    r = client.post("/v1/tokens/revocations", json={"jti": jti}, headers=admin)
    assert r.status_code == 200, r.text
    assert r.json()["jti"] == jti
    assert client.get("/v1/incidents", headers=doomed).status_code == 401
    assert client.get("/v1/incidents", headers=kept).status_code == 200
    again = client.post("/v1/tokens/revocations", json={"jti": jti}, headers=admin)
    assert again.status_code == 200 and again.json()["revoked_at"] == r.json()["revoked_at"]


def test_revoking_by_token_keeps_the_entry_until_its_expiry(client, auth, settings, fresh_view, clock):
    admin = auth("admin", sub="ops")
    doomed = auth("incidents:read", ttl_seconds=600)
    r = client.post("/v1/tokens/revocations", json={"token": doomed["Authorization"].split()[1]}, headers=admin)
    assert r.status_code == 200
    from datetime import datetime

    expires = datetime.fromisoformat(r.json()["expires_at"]).timestamp()
    assert expires == int(clock.now().timestamp()) + 600
    assert client.get("/v1/incidents", headers=doomed).status_code == 401


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "body"),
        ({"jti": "a", "token": "b.c.d"}, "body"),
        ({"token": "not-a-token"}, "body.token"),
    ],
)
def test_bad_revocations_are_422(client, auth, body, field):
    r = client.post("/v1/tokens/revocations", json=body, headers=auth("admin"))
    assert r.status_code == 422, r.text
    assert field in {e["field"] for e in r.json()["errors"]}
