"""Simultaneous writes on a real database (SQLite and PostgreSQL), without the per-test transaction."""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from app.audit.service import verify
from app.auth.tokens import create_access_token
from app.db import build_engine
from app.main import create_app
from app.policy.models import PolicyAcknowledgement, PolicyReview
from tests.conftest import make_settings
from tests.policy.factories import pin_today, review_body

N = 8


def _fire(client: TestClient, requests: list[tuple[str, dict, dict]]) -> list[int]:
    statuses: list[int] = []
    lock = threading.Lock()
    barrier = threading.Barrier(len(requests))

    def one(path: str, body: dict, headers: dict) -> None:
        barrier.wait()
        response = client.post(path, json=body, headers=headers)
        with lock:
            statuses.append(response.status_code)

    threads = [threading.Thread(target=one, args=req) for req in requests]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return statuses


def _bearer(settings, sub, scopes):
    return {"Authorization": "Bearer " + create_access_token(settings, sub=sub, scopes=scopes)}


def test_simultaneous_acknowledgements_and_reviews(fresh_database):
    settings = make_settings(fresh_database.url, db_pool_size=N)
    app = create_app(settings)
    pin_today(app, dt.date(2025, 3, 20))
    me = _bearer(settings, "vol-race", ["policy:read"])
    hr = _bearer(settings, "hr", ["policy:read", "policy:write"])

    with TestClient(app, raise_server_exceptions=False) as client:
        acks = _fire(client, [("/v1/policy/acknowledgements", {}, me)] * N)
        same_label = _fire(client, [("/v1/policy/reviews", review_body(version="2025-03"), hr)] * N)
        # Different labels: each may land on whatever is current when it runs, but the history
        # must stay one line (no two reviews superseding the same version).
        labels = _fire(client, [("/v1/policy/reviews", review_body(version=f"2025-03-r{i}"), hr) for i in range(N)])
        history = client.get("/v1/policy/reviews", headers=hr).json()["items"]
        status = client.get("/v1/policy", headers=hr).json()

    assert Counter(acks) == Counter({201: 1, 200: N - 1}), acks
    assert Counter(same_label) == Counter({201: 1, 409: N - 1}), same_label
    assert set(labels) <= {201, 409} and labels.count(201) >= 1, labels
    landed = 1 + labels.count(201)
    assert len(history) == landed + 1
    # Newest first, each review superseding the one after it, down to the pack's original.
    for newer, older in zip(history, history[1:], strict=False):
        assert newer["previous_version"] == older["version"]
    assert history[-1]["version"] == "2019-11" and history[-1]["source"] == "pack"
    assert status["version"] == history[0]["version"] and status["status"] == "current"

    engine = build_engine(settings)
    try:
        with Session(engine) as session:
            assert len(session.exec(select(PolicyAcknowledgement)).all()) == 1
            reviews = session.exec(select(PolicyReview)).all()
            assert len(reviews) == landed
            assert len({r.previous_version for r in reviews}) == landed
            report = verify(session)
            assert report.ok and report.checked == 1 + landed, report
    finally:
        engine.dispose()
