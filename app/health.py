"""Operational endpoints: liveness, readiness (database and migrations) and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, ConfigDict
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from app.errors import ServiceUnavailable, problem_responses
from app.migrations_state import current_heads, expected_heads

router = APIRouter(tags=["operations"])
PUBLIC = {"security": []}


class Health(BaseModel):
    """Liveness or readiness status."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"status": "ok"}, {"status": "ready", "database": "ok", "migrations": "head"}]}
    )

    status: str
    database: str | None = None
    migrations: str | None = None


@router.get(
    "/healthz",
    operation_id="getHealth",
    summary="Liveness: the process is up",
    response_model=Health,
    response_model_exclude_none=True,
    openapi_extra=PUBLIC,
)
def healthz() -> Health:
    """Answer 200 while the process can serve requests; touches nothing else."""
    return Health(status="ok")


@router.get(
    "/readyz",
    operation_id="getReadiness",
    summary="Readiness: database reachable and migrations at head",
    response_model=Health,
    responses=problem_responses(503),
    openapi_extra=PUBLIC,
)
def readyz(request: Request) -> Health:
    """Answer 200 when the database answers and its schema is at the migrations' head, else 503."""
    # The read engine: on SQLite the writer pool's one connection may be queued behind a writer.
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
    return Health(status="ready", database="ok", migrations="head")


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
