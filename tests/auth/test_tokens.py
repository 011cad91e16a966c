"""Token verification: every way a token can be wrong is a 401 problem+json."""

import base64
import datetime as dt
import json
import time

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import APIRouter
from jose import jwt

from app.auth.dependencies import require
from app.auth.tokens import TokenError, create_access_token, decode_token
from app.clock import FakeClock
from app.settings import Settings


def _rsa_pair():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


@pytest.fixture
def probe_client(app, client):
    router = APIRouter()

    @router.get("/v1/_probe", dependencies=[require("policy:read")])
    def probe() -> dict:
        return {"ok": True}

    app.include_router(router)
    return client


def _claims(settings: Settings, **overrides):
    now = int(time.time())
    claims = {
        "sub": "alice",
        "scope": "policy:read",
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "iat": now,
        "nbf": now,
        "exp": now + 600,
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def test_valid_token_is_accepted(probe_client, settings):
    token = jwt.encode(_claims(settings), settings.jwt_secret, algorithm="HS256")
    r = probe_client.get("/v1/_probe", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200
    assert r.json() == {"ok": True}


def _bad_tokens(settings: Settings):
    now = int(time.time())
    private, _public = _rsa_pair()
    unsigned = _b64({"alg": "none", "typ": "JWT"}) + "." + _b64(_claims(settings)) + "."
    good = jwt.encode(_claims(settings), settings.jwt_secret, algorithm="HS256")
    head, body, sig = good.split(".")
    tampered_body = _b64(_claims(settings, scope="policy:read admin"))
    return {
        "expired": jwt.encode(
            _claims(settings, iat=now - 7200, nbf=now - 7200, exp=now - 3600), settings.jwt_secret, algorithm="HS256"
        ),
        "not_yet_valid": jwt.encode(
            _claims(settings, nbf=now + 3600, exp=now + 7200), settings.jwt_secret, algorithm="HS256"
        ),
        "wrong_issuer": jwt.encode(_claims(settings, iss="someone-else"), settings.jwt_secret, algorithm="HS256"),
        "wrong_audience": jwt.encode(_claims(settings, aud="other-api"), settings.jwt_secret, algorithm="HS256"),
        "bad_signature": jwt.encode(_claims(settings), "another-secret-entirely-0123456789", algorithm="HS256"),
        "tampered": f"{head}.{tampered_body}.{sig}",
        "alg_none": unsigned,
        "outside_allow_list_hs512": jwt.encode(_claims(settings), settings.jwt_secret, algorithm="HS512"),
        "other_family_rs256": jwt.encode(_claims(settings), private, algorithm="RS256"),
        "no_exp": jwt.encode(_claims(settings, exp=None), settings.jwt_secret, algorithm="HS256"),
        "garbage": "not-a-jwt",
    }


@pytest.mark.parametrize(
    "case",
    [
        "expired",
        "not_yet_valid",
        "wrong_issuer",
        "wrong_audience",
        "bad_signature",
        "tampered",
        "alg_none",
        "outside_allow_list_hs512",
        "other_family_rs256",
        "no_exp",
        "garbage",
    ],
)
def test_bad_tokens_are_401_problems(probe_client, settings, case):
    token = _bad_tokens(settings)[case]
    r = probe_client.get("/v1/_probe", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401, (case, r.text)
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["status"] == 401 and body["type"].endswith("/unauthorized")
    assert token not in r.text
    assert r.headers["www-authenticate"].startswith("Bearer")


def test_missing_token_is_401(probe_client):
    r = probe_client.get("/v1/_probe")
    assert r.status_code == 401
    assert r.json()["detail"].startswith("A bearer token is required")


def test_wrong_scope_is_403(probe_client, auth):
    r = probe_client.get("/v1/_probe", headers=auth("screenings:write"))
    assert r.status_code == 403
    assert r.json()["required_scopes"] == ["policy:read"]


def test_rs256_round_trip_and_hs_confusion_refused():
    private, public = _rsa_pair()
    settings = Settings(jwt_algorithms=["RS256"], jwt_public_key=public, jwt_private_key=private)
    token = create_access_token(settings, sub="svc", scopes=["policy:read"])
    assert decode_token(settings, token).sub == "svc"
    # An HS256 token "signed" with the public key must not pass as RS256 (key confusion).
    forged = jwt.encode(_claims(settings), "forged-with-a-guessable-secret", algorithm="HS256")
    with pytest.raises(TokenError, match="algorithm"):
        decode_token(settings, forged)


def test_scope_claim_must_be_a_string(settings):
    token = jwt.encode(_claims(settings, scope=["policy:read"]), settings.jwt_secret, algorithm="HS256")
    with pytest.raises(TokenError, match="scope"):
        decode_token(settings, token)


def test_verifier_cache_never_outlives_the_token(settings):
    from app.auth.tokens import TokenVerifier

    strict = settings.model_copy(update={"jwt_leeway_seconds": 0})
    clock = FakeClock(dt.datetime(2026, 1, 1, 12, tzinfo=dt.UTC))
    verifier = TokenVerifier(strict, max_entries=2, clock=clock)
    issued = clock.now().timestamp()
    token = create_access_token(strict, sub="cached", scopes=["policy:read"], ttl_seconds=1, now=issued)
    assert verifier.verify(token).sub == "cached"
    clock.advance(0.9)
    assert verifier.verify(token).sub == "cached"  # served from the cache
    clock.advance(0.1)  # exp is reached: jose's own rule (whole seconds) still accepts this second
    assert verifier.verify(token).sub == "cached"
    clock.advance(1)
    with pytest.raises(TokenError, match="expired"):
        verifier.verify(token)
    with pytest.raises(TokenError, match="expired"):
        decode_token(strict, token, now=clock.now().timestamp())  # the same answer without the cache


def test_decode_checks_the_validity_window_at_the_given_time(settings):
    strict = settings.model_copy(update={"jwt_leeway_seconds": 5})
    issued = 1_700_000_000
    token = create_access_token(strict, sub="t", scopes=["policy:read"], ttl_seconds=60, now=issued)
    assert decode_token(strict, token, now=issued - 5).sub == "t"  # within the leeway
    with pytest.raises(TokenError, match="not yet valid"):
        decode_token(strict, token, now=issued - 6)
    assert decode_token(strict, token, now=issued + 65).sub == "t"
    with pytest.raises(TokenError, match="expired"):
        decode_token(strict, token, now=issued + 66)
    with pytest.raises(TokenError, match="expired"):
        decode_token(strict, token)  # the wall clock by default: 2023 is long gone


def test_verifier_does_not_cache_refusals(settings):
    from app.auth.tokens import TokenVerifier

    verifier = TokenVerifier(settings)
    bad = jwt.encode(_claims(settings, aud="other"), settings.jwt_secret, algorithm="HS256")
    for _ in range(2):
        with pytest.raises(TokenError):
            verifier.verify(bad)
