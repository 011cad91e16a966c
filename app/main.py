"""Application factory: settings, engine, middleware, error handlers and routers. Nothing else."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.utils import get_openapi
from sqlalchemy import Engine
from sqlmodel import Session
from starlette.routing import BaseRoute

from app import health
from app.auth import clients_router
from app.auth import router as auth_router
from app.auth.access import AccessGuard
from app.auth.limits import HashBudget, Lockouts
from app.auth.tokens import TokenVerifier
from app.authorities import router as authorities_router
from app.clock import SYSTEM_CLOCK, Clock
from app.db import build_engine, build_read_engine
from app.docs import fill_organisation, install_docs, require_if_match, service_description, service_title
from app.errors import install_error_handlers, problem_responses, problem_schema_components, problem_type_base
from app.escalation import router as escalation_router
from app.escalation.wording import policy_text
from app.incidents import router as incidents_router
from app.incidents.sealing import IncidentSealer
from app.incidents.service import CASE_INCIDENTS
from app.logging_config import configure_logging
from app.middleware import LoopbackOnlyMiddleware, Metrics, RequestContextMiddleware
from app.periodic import Periodic
from app.policy import router as policy_router
from app.policy.pack import PolicyPack, load_pack
from app.policy.service import StatusCache
from app.privacy import router as privacy_router
from app.privacy.service import Purger
from app.protected_terms import router as protected_terms_router
from app.protected_terms.service import Registry as ProtectedTermRegistry
from app.runtime import tune_gc_once
from app.screening import router as screening_router
from app.screening.dependencies import build_provider
from app.screening.sealing import Sealer
from app.settings import Settings, get_settings, trusted_networks

logger = logging.getLogger("app.main")


class StartupError(RuntimeError):
    """The service cannot start as configured (e.g. the policy pack does not load)."""


def _load_policy(settings: Settings) -> PolicyPack:
    # The pack words every verdict, clause and ladder step: without it the service must not serve.
    try:
        pack = load_pack(settings.policy_pack)
        policy_text(settings.policy_pack)
    except (ValueError, OSError) as exc:  # PackError and PolicyWordingError are ValueErrors
        name = repr(settings.policy_pack) if settings.policy_pack else "(the bundled pack)"
        raise StartupError(f"policy pack {name} failed to load; the service will not start: {exc}") from exc
    return pack


def _merge_security(schema: dict[str, Any]) -> None:
    # FastAPI lists one bearer requirement per dependency that touches the token, each with the
    # scopes of its `require(...)`. Our scopes are alternatives (any one suffices), which OpenAPI
    # expresses as one requirement per scope; `x-required-scopes` repeats them for readers.
    for item in schema.get("paths", {}).values():
        for operation in item.values():
            requirements = operation.get("security")
            if not requirements:
                continue
            scopes = sorted({scope for req in requirements for scope in req.get("bearerAuth", [])})
            operation["security"] = [{"bearerAuth": [scope]} for scope in scopes] or [{"bearerAuth": []}]
            operation["x-required-scopes"] = scopes


def _document_media_type_errors(schema: dict[str, Any]) -> None:
    # errors.py answers 415 to any body sent in another media type; every operation with a body can.
    entry = {str(k): v for k, v in problem_responses(415).items()}
    for item in schema.get("paths", {}).values():
        for operation in item.values():
            if isinstance(operation, dict) and "requestBody" in operation:
                operation.setdefault("responses", {}).update(
                    {k: v for k, v in entry.items() if k not in operation["responses"]}
                )
                operation["responses"] = dict(sorted(operation["responses"].items()))


def _serve_hot_routes_first(app: FastAPI, hot: tuple[APIRouter, ...]) -> list[BaseRoute]:
    """Move the inclusions of `hot` to the front of the app's routes; return the routes in their former order.

    Each request tries the app's routes in order, and each included router it passes costs several
    microseconds to rule out (about 70 us of a 400 us policy read behind nine of them). The paths
    of different routers never overlap, so the order changes no match; the OpenAPI document keeps
    the former order.
    """
    documented = list(app.router.routes)
    first = [r for r in documented if getattr(r, "original_router", None) in hot]
    app.router.routes[:] = first + [r for r in documented if r not in first]
    return documented


def _build_openapi(app: FastAPI, routes: list[BaseRoute]) -> dict[str, Any]:
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=routes,
        servers=app.servers,
        tags=app.openapi_tags,
    )
    schema.setdefault("components", {}).setdefault("schemas", {}).update(problem_schema_components())
    _merge_security(schema)
    _document_media_type_errors(schema)
    require_if_match(schema)
    app.openapi_schema = fill_organisation(schema, app.state.pack.organisation.name)
    return app.openapi_schema


def create_app(
    settings: Settings | None = None, *, engine: Engine | None = None, clock: Clock | None = None
) -> FastAPI:
    """Build the application for `settings` (from the environment when omitted), on `clock` (the system's)."""
    settings = settings or get_settings()
    configure_logging(settings.log_level)
    pack = _load_policy(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.uses_default_secrets:
            # Names the settings only, never their values.
            logger.warning(
                "development secrets in use: POLICY_JWT_SECRET and POLICY_SECRET_KEY are the values published in "
                "the repository, so anyone who can reach this server can mint tokens; it answers loopback "
                "callers only. Set both (32+ characters, different) before serving anyone else."
            )
        # Compile the policy pack and detectors once per process, before the first request.
        if getattr(app.state, "screener_provider", None) is None:
            app.state.screener_provider = build_provider(settings, terms=app.state.protected_terms)
        jobs: list[Periodic] = []
        if settings.audit_seal_interval_seconds > 0:
            jobs.append(Sealer(app.state.engine, settings.audit_seal_interval_seconds))
            jobs.append(IncidentSealer(app.state.engine, settings.audit_seal_interval_seconds))
        if settings.purge_interval_seconds > 0:
            jobs.append(Purger(app.state.engine, settings, clock=app.state.clock))
        for job in jobs:
            job.start()
        # Last, so that what start-up built (pack, screener, model) is frozen out of later GC scans.
        tune_gc_once(settings.gc_young_threshold)
        yield
        for job in jobs:
            await job.stop()
        app.state.engine.dispose()
        app.state.read_engine.dispose()

    app = FastAPI(
        title=service_title(pack),
        version="1.0.0",
        description=service_description(pack),
        lifespan=lifespan,
        servers=[{"url": settings.public_base_url, "description": "This deployment (POLICY_PUBLIC_BASE_URL)"}],
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.pack = pack
    app.state.clock = clock = clock or SYSTEM_CLOCK
    app.state.problem_type_base = problem_type_base(settings.problem_type_base, pack.organisation.domains)
    app.state.engine = engine or build_engine(settings)
    # A caller that passes its engine (tests) reads through it too.
    app.state.read_engine = engine or build_read_engine(settings, app.state.engine)
    app.state.metrics = Metrics(settings.prometheus_multiproc_dir)
    app.state.token_verifier = TokenVerifier(settings, clock=clock)
    # Short transactions outside the request's session (the token endpoint, the access snapshot);
    # tests point both at their own session. Reads run in autocommit: on SQLite they then take no
    # write lock (BEGIN IMMEDIATE) and never queue behind writers.
    reader = app.state.engine.execution_options(isolation_level="AUTOCOMMIT")
    app.state.session_factory = lambda: Session(app.state.engine, expire_on_commit=False)
    app.state.read_session_factory = lambda: Session(reader, expire_on_commit=False)
    app.state.access_guard = AccessGuard(
        lambda: app.state.read_session_factory(),
        max_age=settings.access_cache_seconds,
        clock=clock.monotonic,
        epoch_clock=lambda: clock.now().timestamp(),
    )
    app.state.hash_budget = HashBudget(settings.token_hash_concurrency)
    app.state.token_lockouts = Lockouts(clock=clock.monotonic)
    app.state.trusted_proxies = trusted_networks(settings.trusted_proxies)
    app.state.policy_status_cache = StatusCache(settings.status_cache_seconds)
    # Screening reads protected terms through this (the registry depends on screening, not back).
    app.state.protected_terms = ProtectedTermRegistry()
    app.state.case_incidents = CASE_INCIDENTS

    if settings.env == "development" and settings.uses_default_secrets:
        # Innermost of the three middlewares: the request id and access log still apply.
        app.add_middleware(LoopbackOnlyMiddleware)
    install_error_handlers(app)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origins,
        allow_methods=["GET", "POST", "DELETE"],
        allow_headers=["Authorization", "Content-Type", "Idempotency-Key", "If-Match", "X-Request-ID"],
        expose_headers=["ETag", "Location", "X-Request-ID", "Idempotent-Replayed"],
    )
    app.add_middleware(
        RequestContextMiddleware,
        max_body_bytes=settings.max_body_bytes,
        max_header_bytes=settings.max_header_bytes,
        metrics=app.state.metrics,
    )

    install_docs(app)
    app.include_router(health.router)
    app.include_router(auth_router.router)
    app.include_router(clients_router.router)
    app.include_router(screening_router.router)
    app.include_router(protected_terms_router.router)
    app.include_router(authorities_router.router)
    app.include_router(incidents_router.router)
    app.include_router(escalation_router.router)
    app.include_router(policy_router.router)
    app.include_router(privacy_router.router)

    # Liveness first (probes must stay cheap under load), then the routes of issue 16's mix, busiest first.
    hot = (health.router, screening_router.router, incidents_router.router, policy_router.router)
    documented = _serve_hot_routes_first(app, hot)
    app.openapi = lambda: _build_openapi(app, documented)  # type: ignore[method-assign]
    return app


app = create_app()
