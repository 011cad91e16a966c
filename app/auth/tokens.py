"""The only module that touches python-jose: minting and verifying access tokens."""

from __future__ import annotations

import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from jose import JWTError, jwt
from jose.exceptions import ExpiredSignatureError, JWTClaimsError

from app.auth.scopes import parse_scopes
from app.clock import SYSTEM_CLOCK, Clock
from app.settings import Settings


class TokenError(Exception):
    """A token that must be refused; the message says why without echoing the token."""


@dataclass(frozen=True, slots=True)
class Principal:
    """The verified caller: subject, scopes and the client it came through, if any."""

    sub: str
    scopes: frozenset[str]
    client_id: str | None = None
    jti: str | None = None
    issued_at: int | None = None
    expires_at: int | None = None

    def has(self, scope: str) -> bool:
        """Return True when the token carries `scope`."""
        return scope in self.scopes


def _signing_key(settings: Settings, algorithm: str) -> str:
    if algorithm.startswith("HS"):
        return settings.jwt_secret
    if not settings.jwt_private_key:
        raise TokenError("POLICY_JWT_PRIVATE_KEY is needed to sign RS tokens")
    return settings.jwt_private_key


def _verification_key(settings: Settings, algorithm: str) -> str:
    if algorithm.startswith("HS"):
        return settings.jwt_secret
    return settings.jwt_public_key or ""


def create_access_token(
    settings: Settings,
    *,
    sub: str,
    scopes: frozenset[str] | list[str],
    ttl_seconds: int | None = None,
    client_id: str | None = None,
    now: float | None = None,
) -> str:
    """Mint a signed access token with the first allowed algorithm.

    Raises ValueError for a scope the service does not know or a lifetime over
    `max_token_ttl_seconds`: either would be refused when the token is used.
    """
    parse_scopes(" ".join(scopes))
    lifetime = ttl_seconds or settings.access_token_ttl_seconds
    if not 0 < lifetime <= settings.max_token_ttl_seconds:
        raise ValueError(f"the token lifetime must be between 1 and {settings.max_token_ttl_seconds} seconds")
    issued = int(now if now is not None else time.time())
    algorithm = settings.jwt_algorithms[0]
    claims: dict[str, object] = {
        "sub": sub,
        "scope": " ".join(sorted(scopes)),
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "iat": issued,
        "nbf": issued,
        "exp": issued + lifetime,
        "jti": uuid.uuid4().hex,
    }
    if client_id:
        claims["client_id"] = client_id
    return jwt.encode(claims, _signing_key(settings, algorithm), algorithm=algorithm)


def decode_token(settings: Settings, token: str, *, now: float | None = None) -> Principal:
    """Verify signature, algorithm, issuer, audience, exp and nbf (at `now`, epoch seconds); return the principal."""
    try:
        header = jwt.get_unverified_header(token)
    except JWTError as exc:
        raise TokenError("the token is not a well-formed JWT") from exc
    algorithm = header.get("alg")
    # Checked before any key is chosen, so `none` or an HS/RS swap never reaches verification.
    if algorithm not in settings.jwt_algorithms:
        raise TokenError(f"the token's algorithm is not accepted (allowed: {', '.join(settings.jwt_algorithms)})")
    try:
        claims = jwt.decode(
            token,
            _verification_key(settings, algorithm),
            algorithms=[algorithm],
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
            options={
                "require_sub": True,
                "require_iss": True,
                "require_aud": True,
                "require_iat": True,
                # exp and nbf are checked below at `now`: python-jose can only read the wall clock.
                "verify_exp": False,
                "verify_nbf": False,
                "leeway": settings.jwt_leeway_seconds,
            },
        )
        _check_validity_window(claims, now=time.time() if now is None else now, leeway=settings.jwt_leeway_seconds)
    except ExpiredSignatureError as exc:
        raise TokenError("the token has expired") from exc
    except JWTClaimsError as exc:
        raise TokenError(f"the token's claims are not valid: {exc}") from exc
    except JWTError as exc:
        raise TokenError(f"the token could not be verified: {exc}") from exc
    except (TypeError, ValueError) as exc:  # python-jose on a null or odd time claim (e.g. "iat": null)
        raise TokenError("the token's time claims are not valid") from exc
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub:
        raise TokenError("the token has no subject")
    scope = claims.get("scope", "")
    if not isinstance(scope, str):
        raise TokenError("the token's scope claim must be a space-separated string")
    try:
        scopes = parse_scopes(scope)
    except ValueError as exc:
        raise TokenError(f"the token carries {exc}") from exc
    issued, expires = claims.get("iat"), claims["exp"]
    if not isinstance(issued, int | float) or not isinstance(expires, int | float):
        raise TokenError("the token's iat and exp claims must be numbers")
    if expires - issued > settings.max_token_ttl_seconds:
        raise TokenError(f"the token's lifetime is over the limit of {settings.max_token_ttl_seconds} seconds")
    client_id, jti = claims.get("client_id"), claims.get("jti")
    return Principal(
        sub=sub,
        scopes=scopes,
        client_id=client_id if isinstance(client_id, str) else None,
        jti=jti if isinstance(jti, str) else None,
        issued_at=int(issued),
        expires_at=int(expires),
    )


def _check_validity_window(claims: dict[str, Any], *, now: float, leeway: float) -> None:
    # The checks python-jose makes with its own clock, made at `now`, with its errors.
    if "exp" not in claims:
        raise JWTError('missing required key "exp" among claims')
    moment = int(now)  # jose compares whole seconds
    if "nbf" in claims:
        try:
            not_before = int(claims["nbf"])
        except ValueError as exc:
            raise JWTClaimsError("Not Before claim (nbf) must be an integer.") from exc
        if not_before > moment + leeway:
            raise JWTClaimsError("The token is not yet valid (nbf)")
    try:
        expires = int(claims["exp"])
    except ValueError as exc:
        raise JWTClaimsError("Expiration Time claim (exp) must be an integer.") from exc
    if expires < moment - leeway:
        raise ExpiredSignatureError("Signature has expired.")


class TokenVerifier:
    """`decode_token` with a bounded cache of tokens already verified, per process.

    Machine clients reuse one token for many requests; verifying its signature each time is a
    measurable share of a screening request. A cached entry is only trusted inside the token's
    own validity window, re-checked on every hit, so expiry is never extended. Refusals are never
    cached.
    """

    def __init__(self, settings: Settings, *, max_entries: int = 4096, clock: Clock = SYSTEM_CLOCK) -> None:
        self._settings = settings
        self._clock = clock
        self._max_entries = max_entries
        self._cache: OrderedDict[str, tuple[Principal, float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def verify(self, token: str, *, now: float | None = None) -> Principal:
        """Return the token's principal, verifying it fully unless a live cached result exists."""
        moment = self._clock.now().timestamp() if now is None else now
        leeway = self._settings.jwt_leeway_seconds
        with self._lock:
            hit = self._cache.get(token)
            if hit is not None:
                principal, not_before, expires = hit
                if not_before - leeway <= moment < expires + leeway:
                    self._cache.move_to_end(token)
                    return principal
                del self._cache[token]
        principal = decode_token(self._settings, token, now=moment)
        claims = jwt.get_unverified_claims(token)
        not_before = float(claims.get("nbf", claims.get("iat", 0)) or 0)
        expires = float(claims["exp"])
        with self._lock:
            self._cache[token] = (principal, not_before, expires)
            if len(self._cache) > self._max_entries:
                self._cache.popitem(last=False)
        return principal
