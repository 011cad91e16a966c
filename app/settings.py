"""Every runtime knob of the service, read from the environment in one place.

Names use the ``POLICY_`` prefix, except ``DATABASE_URL`` which follows the common convention.
Development defaults work out of the box; with ``POLICY_ENV=production`` the service refuses to
start on a default or short secret.
"""

from __future__ import annotations

import hmac
import ipaddress
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_JWT_SECRET = "dev-only-jwt-secret-change-me-in-production-0000"
DEV_SECRET_KEY = "dev-only-hashing-key-change-me-in-production-000"
MIN_SECRET_LENGTH = 32
# Either default is refused for either key in production: swapping them is no better.
REPOSITORY_DEFAULT_SECRETS = frozenset({DEV_JWT_SECRET, DEV_SECRET_KEY})

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def trusted_networks(entries: list[str]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """Parse POLICY_TRUSTED_PROXIES (addresses or CIDR networks); raise naming a bad entry."""
    networks = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError:
            raise ValueError(f"POLICY_TRUSTED_PROXIES: {entry!r} is not an IP address or network") from None
    return tuple(networks)


class Settings(BaseSettings):
    """Typed configuration; construct directly in tests, from the environment elsewhere."""

    # hide_input_in_errors: a refused setting must never echo a secret (or its end) in the start-up error.
    model_config = SettingsConfigDict(env_prefix="POLICY_", extra="ignore", frozen=True, hide_input_in_errors=True)

    env: Literal["development", "test", "production"] = "development"
    database_url: str = Field(
        default="sqlite:///./data/policy.db",
        validation_alias=AliasChoices("DATABASE_URL", "POLICY_DATABASE_URL"),
    )
    db_pool_size: int | None = Field(
        default=None, ge=1, description="Connections per process; SQLite defaults to 1 (one writer)."
    )
    sqlite_busy_timeout_ms: int = Field(default=10_000, ge=0)

    # JWT verification: an explicit allow-list, never what the token header asks for.
    jwt_algorithms: list[str] = ["HS256"]
    jwt_secret: str = DEV_JWT_SECRET
    jwt_public_key: str | None = None
    jwt_private_key: str | None = None
    jwt_issuer: str = "policy-service"
    jwt_audience: str = "policy-api"
    access_token_ttl_seconds: int = Field(default=3600, ge=60, le=30 * 86_400)
    jwt_leeway_seconds: int = Field(default=30, ge=0, le=300)

    # Keyed hashing of protected terms and client secrets.
    secret_key: str = DEV_SECRET_KEY

    cors_origins: list[str] = []
    log_level: str = "INFO"
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    public_base_url: str = "http://127.0.0.1:8000"
    problem_type_base: str | None = Field(
        default=None,
        description="Base of problem `type` URIs; defaults to https://<the pack's first domain>/problems/.",
    )

    prometheus_multiproc_dir: Path | None = Field(
        default=None,
        validation_alias=AliasChoices("PROMETHEUS_MULTIPROC_DIR"),
        description="prometheus_client's multiprocess directory: set it (and empty it before the "
        "workers start) when running several workers, so /metrics sums them all.",
    )

    policy_pack: str | None = None
    max_text_chars: int = Field(default=10_000, ge=1)
    max_batch_size: int = Field(default=100, ge=1)
    audit_seal_interval_seconds: float = Field(
        default=2.0,
        ge=0,
        le=3600,
        description="How often each worker seals new screenings and incidents into the audit chain; 0 turns the "
        "background sealer off (tests, or a deployment that runs one dedicated sealer).",
    )
    idempotency_ttl_hours: int = Field(
        default=24, ge=1, description="How long a key replays; the purge removes records once they expire."
    )

    # Retention (UK GDPR storage limitation): the purge removes what is older than this.
    retention_screenings_days: int = Field(
        default=90, ge=1, description="Stored screenings, by when they were screened."
    )
    retention_closed_cases_days: int = Field(
        default=730,
        ge=1,
        description="A resolved escalation case, its history and its incidents, by the case's last change. "
        "Open cases and their incidents are kept while the ladder may still need them.",
    )
    retention_token_failures_hours: int = Field(
        default=24, ge=1, description="Failed token attempts (rate limiting only needs the last minute)."
    )
    purge_interval_seconds: float = Field(
        default=3600,
        ge=0,
        le=7 * 86_400,
        description="How often each worker purges expired records; 0 turns the background purge off "
        "(tests, or a deployment that runs `python -m app purge` from cron).",
    )
    review_interval_months: int = Field(default=12, ge=1)
    review_due_soon_days: int = Field(default=60, ge=0)
    gc_young_threshold: int = Field(
        default=7000,
        ge=0,
        le=1_000_000,
        description="Allocations (net of frees) before Python's garbage collector scans its youngest "
        "generation, set once per worker at start-up, when the objects built then are also frozen out of "
        "every later scan; 0 keeps Python's defaults and freezes nothing.",
    )
    status_cache_seconds: float = Field(
        default=5,
        ge=0,
        le=60,
        description="How long a worker reuses its answer to GET /v1/policy (counting the people known to the "
        "service reads every screening and incident); a review or acknowledgement through the same worker "
        "refreshes it at once. 0: computed on every call.",
    )

    # Access control and abuse resistance: the token endpoint, clients, tokens, request limits.
    token_failures_per_minute: int = Field(
        default=10, ge=1, description="Failed token requests per (client id, address) per minute before 429."
    )
    token_address_failures_per_minute: int = Field(
        default=50, ge=1, description="Failed token requests per address per minute, whatever the client id."
    )
    token_hash_concurrency: int = Field(
        default=2, ge=1, le=64, description="Secret hashes computed at once per process; more requests get 429."
    )
    token_refusal_delay_seconds: float = Field(
        default=1.0,
        ge=0,
        le=10,
        description="A 429 from the token endpoint is sent this late, so a client retrying at once cannot "
        "keep a worker busy answering it.",
    )
    trusted_proxies: list[str] = Field(
        default=[],
        description="Proxy addresses or networks (CIDR) whose X-Forwarded-For is believed; none by default.",
    )
    client_secret_grace_seconds: int = Field(
        default=3600, ge=0, le=30 * 86_400, description="How long a rotated-out client secret keeps working."
    )
    access_cache_seconds: float = Field(
        default=30, ge=0, le=60, description="How long a worker trusts its view of disabled clients and revoked tokens."
    )
    max_token_ttl_seconds: int = Field(
        default=86_400, ge=60, le=30 * 86_400, description="Longest token lifetime minted or accepted."
    )
    max_token_chars: int = Field(default=4096, ge=256, description="Longest bearer token read.")
    max_header_bytes: int = Field(default=16_384, ge=1024, description="Request headers over this get 431.")

    alembic_ini: Path = PROJECT_ROOT / "alembic.ini"

    @model_validator(mode="after")
    def _check_secrets(self) -> Settings:
        allowed = {"HS256", "HS384", "HS512", "RS256", "RS384", "RS512"}
        unknown = [a for a in self.jwt_algorithms if a not in allowed]
        if unknown or not self.jwt_algorithms:
            raise ValueError(f"POLICY_JWT_ALGORITHMS must be a non-empty subset of {sorted(allowed)}")
        if any(a.startswith("RS") for a in self.jwt_algorithms) and not self.jwt_public_key:
            raise ValueError("POLICY_JWT_PUBLIC_KEY is required when an RS algorithm is allowed")
        if self.access_token_ttl_seconds > self.max_token_ttl_seconds:
            raise ValueError("POLICY_ACCESS_TOKEN_TTL_SECONDS must not exceed POLICY_MAX_TOKEN_TTL_SECONDS")
        trusted_networks(self.trusted_proxies)  # raises naming the bad entry
        if self.env == "production":
            self._check_production_secrets()
        return self

    def _check_production_secrets(self) -> None:
        # Messages name the setting and the rule only: never the value, nor any part of it.
        checked = [("POLICY_SECRET_KEY", self.secret_key)]
        if self.uses_hmac:
            checked.insert(0, ("POLICY_JWT_SECRET", self.jwt_secret))
        for name, value in checked:
            if value in REPOSITORY_DEFAULT_SECRETS or len(value) < MIN_SECRET_LENGTH:
                raise ValueError(
                    f"{name} must be set to a secret of at least {MIN_SECRET_LENGTH} characters, not the "
                    "repository's default, when POLICY_ENV=production"
                )
        if self.uses_hmac and hmac.compare_digest(self.jwt_secret, self.secret_key):
            raise ValueError(
                "POLICY_JWT_SECRET and POLICY_SECRET_KEY must be different keys when POLICY_ENV=production"
            )

    @property
    def uses_default_secrets(self) -> bool:
        """True when a secret published in the repository is in use (development only)."""
        return self.secret_key in REPOSITORY_DEFAULT_SECRETS or (
            self.uses_hmac and self.jwt_secret in REPOSITORY_DEFAULT_SECRETS
        )

    @property
    def uses_hmac(self) -> bool:
        """True when HS* tokens are accepted, so the shared JWT secret matters."""
        return any(a.startswith("HS") for a in self.jwt_algorithms)

    @property
    def is_sqlite(self) -> bool:
        """True when the database is an embedded SQLite file."""
        return self.database_url.startswith("sqlite")


@lru_cache
def get_settings() -> Settings:
    """Return the process-wide settings, read from the environment once."""
    return Settings()
