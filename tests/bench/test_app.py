"""The benchmark's own app: the service plus a bare insert that the service itself never serves."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import select

from app.db import get_session
from app.screening.models import Screening
from bench import BARE_AUTHOR
from bench.app import create_bench_app
from tests.screening_api.factories import post

BODY: dict[str, Any] = {
    "post": post(),
    "suggested_text": "Lovely sunny walk by the river this morning.",
    "findings": [],
}


def test_the_service_has_no_bench_route(client):
    assert client.post("/bench/insert", json=BODY).status_code == 404
    assert not any(p.startswith("/bench") for p in client.get("/openapi.json").json()["paths"])


def test_bare_insert_stores_one_row_and_stays_out_of_the_spec(settings, engine, session):
    bench = create_bench_app(settings, engine=engine)
    bench.dependency_overrides[get_session] = lambda: (yield session)
    with TestClient(bench) as client:
        response = client.post("/bench/insert", json=BODY)
        assert response.status_code == 201
        row = session.exec(select(Screening).where(Screening.id == uuid.UUID(response.json()["id"]))).one()
        assert (row.author_id, row.text_length) == (BARE_AUTHOR, len(BODY["post"]["text"]))
        assert row.text_hmac and BODY["post"]["text"] not in row.text_hmac
        assert not any(p.startswith("/bench") for p in client.get("/openapi.json").json()["paths"])
        # The service's own routes are all there, guarded as usual.
        assert client.get("/v1/policy").status_code == 401


def test_bare_insert_refuses_what_the_service_would(settings, engine, session):
    bench = create_bench_app(settings, engine=engine)
    bench.dependency_overrides[get_session] = lambda: (yield session)
    with TestClient(bench) as client:
        assert client.post("/bench/insert", json={**BODY, "extra": 1}).status_code == 422
        assert client.post("/bench/insert", json={**BODY, "post": {"text": "x"}}).status_code == 422
