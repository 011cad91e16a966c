"""Operational endpoints: liveness, readiness (database and migrations) and Prometheus metrics."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, ConfigDict
from sqlalchemy import Engine, insert, text, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlmodel import col

from app.db import LOCK_TIMEOUT_OPTION, WriteProbe, utcnow
from app.errors import DATABASE_RETRY_AFTER_SECONDS, ServiceUnavailable, database_trouble, problem_responses
from app.migrations_state import current_heads, expected_heads
from app.responses import model_response

# A write probe at most this often per worker, unless a request has just failed on the database.
WRITE_PROBE_INTERVAL_SECONDS = 10.0
# A request that failed to write (read-only, full) keeps the worker not ready this long: a probe's
# tiny write can still fit where a real one does not (a full disk with room left in one page).
RECENT_WRITE_FAILURE_SECONDS = 30.0
WRITE_FAILURES = frozenset({"read-only", "full"})
# A probe waits this long for the SQLite write lock; a lock held longer means busy, not broken.
PROBE_LOCK_TIMEOUT_MS = 250

router = APIRouter(tags=["operations"])
PUBLIC: dict[str, Any] = {"security": []}


class Health(BaseModel):
    """Liveness or readiness status."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"status": "ok"}, {"status": "ready", "database": "ok", "migrations": "head"}]}
    )

    status: str
    database: str | None = None
    migrations: str | None = None
    writes: str | None = None


def probe_writes(engine: Engine) -> str | None:
    """Commit one tiny write; return why writes fail (`read-only`, `full`, ...) or None when they land."""
    try:
        with engine.connect().execution_options(**{LOCK_TIMEOUT_OPTION: PROBE_LOCK_TIMEOUT_MS}) as connection:
            try:
                with connection.begin():
                    now = utcnow()
                    updated = connection.execute(
                        update(WriteProbe).where(col(WriteProbe.name) == "readyz").values(written_at=now)
                    )
                    if updated.rowcount == 0:
                        connection.execute(insert(WriteProbe).values(name="readyz", written_at=now))
            except IntegrityError:
                pass  # another worker inserted the row first: that write landed
    except SQLAlchemyError as exc:
        reason = database_trouble(exc) or "failing"
        return None if reason == "busy" else reason
    return None


def _writes_failing(request: Request) -> str | None:
    """Name why writes fail: a recent request's write failure, else a (throttled) write probe."""
    state = request.app.state
    now = time.monotonic()
    last_probe = getattr(state, "write_probe_at", None)
    trouble_at = getattr(state, "database_trouble_at", None)
    trouble = getattr(state, "database_trouble", None)
    if trouble in WRITE_FAILURES and trouble_at is not None and now - trouble_at < RECENT_WRITE_FAILURE_SECONDS:
        return trouble
    fresh = last_probe is not None and now - last_probe < WRITE_PROBE_INTERVAL_SECONDS
    if fresh and (trouble_at is None or trouble_at < last_probe):
        return getattr(state, "write_probe_result", None)
    result = probe_writes(state.engine)
    state.write_probe_at, state.write_probe_result = time.monotonic(), result
    return result


@router.get(
    "/healthz",
    operation_id="getHealth",
    summary="Liveness: the process is up",
    response_model=Health,
    response_model_exclude_none=True,
    openapi_extra=PUBLIC,
)
def healthz() -> Response:
    """Answer 200 while the process can serve requests; touches nothing else."""
    return model_response(Health(status="ok"), exclude_none=True)


@router.get(
    "/readyz",
    operation_id="getReadiness",
    summary="Readiness: database reachable, writable and migrations at head",
    response_model=Health,
    responses=problem_responses(503),
    openapi_extra=PUBLIC,
)
def readyz(request: Request) -> Response:
    """Answer 200 when the database answers, takes writes and its schema is at the migrations' head, else 503.

    Writes are proved by committing one row at most every few seconds per worker, and at once after
    a request has failed on the database: a read-only or full database is not ready.
    """
    # Reachability and migrations through the read engine: on SQLite the writer pool's one
    # connection may be queued behind a writer. Writes are proved separately, below.
    engine = request.app.state.read_engine
    try:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("SELECT 1"))
            heads = current_heads(connection)
    except SQLAlchemyError as exc:
        raise ServiceUnavailable("The database is not reachable.", database="unreachable") from exc
    expected = expected_heads(request.app.state.settings)
    if heads != expected:
        raise ServiceUnavailable(
            "The database schema is not at the migrations' head; run `alembic upgrade head`.",
            database="ok",
            migrations="behind",
        )
    failing = _writes_failing(request)
    if failing is not None:
        raise ServiceUnavailable(
            f"The database does not take writes ({failing}).",
            headers={"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)},
            database="ok",
            migrations="head",
            writes=failing,
        )
    return model_response(Health(status="ready", database="ok", migrations="head", writes="ok"))


@router.get(
    "/metrics",
    operation_id="getMetrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={
        200: {
            "content": {
                "text/plain": {
                    "schema": {"type": "string"},
                    "example": "# TYPE http_requests_total counter\n"
                    'http_requests_total{method="GET",route="/v1/policy",status="200"} 42.0\n',
                }
            },
            "description": "Prometheus text format.",
        }
    },
    openapi_extra=PUBLIC,
)
def metrics(request: Request) -> Response:
    """Request counts and latency histograms by route template, in Prometheus text format."""
    # With PROMETHEUS_MULTIPROC_DIR set, `exposition` sums every worker of the instance.
    return Response(generate_latest(request.app.state.metrics.exposition), media_type=CONTENT_TYPE_LATEST)
