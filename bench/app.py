"""The benchmark's own ASGI app: the service as `create_app` builds it, plus a bare insert.

Served as `uvicorn bench.app:app` by bench/http.py and bench/mixed.py, never by the service
itself. `POST /bench/insert` stores one screening-sized row through SQLAlchemy Core and nothing
else, on the same app, middleware, engine and pool as the real routes: the HTTP+database floor a
screening is compared against. It takes no token (it is not part of the service) and is left out
of the OpenAPI document.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from sqlalchemy import Engine, insert

from app.db import SessionDep, utcnow
from app.keys import keyed_digest
from app.main import create_app
from app.screening.dependencies import screener_provider
from app.screening.models import Screening
from app.screening.schemas import PostIn
from app.settings import Settings
from bench import BARE_AUTHOR, BARE_PATH

_INSERT = insert(Screening.__table__)  # type: ignore[attr-defined]

router = APIRouter(include_in_schema=False)


class BareIn(BaseModel):
    """A post with the engine's answer already computed, so the route does no screening."""

    model_config = ConfigDict(extra="forbid")

    post: PostIn
    suggested_text: str
    findings: list[dict]


@router.post(BARE_PATH, status_code=201)
def bench_insert(body: BareIn, session: SessionDep, request: Request) -> JSONResponse:
    """Insert one screening-sized row and commit: the floor `POST /v1/screenings` is compared with."""
    row_id = uuid.uuid4()
    session.execute(
        _INSERT,
        {
            "id": row_id,
            "created_at": utcnow(),
            "created_by": BARE_AUTHOR,
            "author_id": BARE_AUTHOR,
            "author_role": str(body.post.author.role),
            "platform": body.post.platform,
            "account": body.post.context.account,
            "authority_id": None,
            "text_hmac": keyed_digest(screener_provider(request).text_key, body.post.text.encode()),
            "text_length": len(body.post.text),
            "suggested_text": body.suggested_text,
            "verdict": "allow",
            "risk_score": 0.0,
            "rule_ids": " ",
            "findings": body.findings,
            "notes": [],
            "policy_version": "bench",
            "engine_version": "bench",
        },
    )
    session.commit()
    return JSONResponse({"id": str(row_id)}, status_code=201)


def create_bench_app(settings: Settings | None = None, *, engine: Engine | None = None) -> FastAPI:
    """Build the service as `create_app` does (from the environment by default) and add the bare insert."""
    service = create_app(settings, engine=engine)
    service.include_router(router)
    # Tried first, as the service's busiest routes are: a floor must not pay for passing the others.
    service.router.routes.insert(0, service.router.routes.pop())
    return service


app = create_bench_app()
