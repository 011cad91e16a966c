"""Twenty simultaneous advances of one case version: exactly one wins, on SQLite and PostgreSQL.

Real separate sessions: the app is built on a fresh database WITHOUT the per-test session override,
and the requests come from 20 threads at once (sync routes run in the worker thread pool).
"""

from __future__ import annotations

import threading
from collections import Counter

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from app.audit.service import verify
from app.auth.tokens import create_access_token
from app.db import build_engine
from app.escalation.models import EscalationCase, EscalationEvent
from app.main import create_app
from tests.conftest import make_settings
from tests.incidents.factories import incident_body

N = 20


def test_simultaneous_advances_exactly_one_succeeds(fresh_database):
    settings = make_settings(fresh_database.url, db_pool_size=N)
    app = create_app(settings)
    hr = {"Authorization": "Bearer " + create_access_token(settings, sub="hr", scopes=["incidents:write"])}
    mgr = {"Authorization": "Bearer " + create_access_token(settings, sub="mgr", scopes=["escalations:write"])}
    statuses: list[int] = []
    lock = threading.Lock()
    barrier = threading.Barrier(N)

    with TestClient(app, raise_server_exceptions=False) as client:
        created = client.post("/v1/incidents", json=incident_body("race-1"), headers=hr)
        assert created.status_code == 201, created.text

        def fire(i: int) -> None:
            barrier.wait()
            response = client.post(
                "/v1/escalations/race-1/advance",
                json={"reason": f"attempt {i}"},
                headers={**mgr, "If-Match": '"1"'},
            )
            with lock:
                statuses.append(response.status_code)

        threads = [threading.Thread(target=fire, args=(i,)) for i in range(N)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)

    assert Counter(statuses) == Counter({200: 1, 412: N - 1}), Counter(statuses)
    engine = build_engine(settings)
    try:
        with Session(engine) as session:
            case = session.exec(select(EscalationCase).where(EscalationCase.subject_id == "race-1")).one()
            assert (case.stage, case.version) == ("spoken_to", 2)
            events = session.exec(select(EscalationEvent).where(EscalationEvent.case_id == case.id)).all()
            assert sorted(e.kind for e in events) == ["advanced", "opened"]
            report = verify(session)
            assert report.ok and report.checked == 3, report  # incident, opened, one advance
    finally:
        engine.dispose()


def test_simultaneous_first_incidents_open_one_case(fresh_database):
    settings = make_settings(fresh_database.url, db_pool_size=10)
    app = create_app(settings)
    hr = {"Authorization": "Bearer " + create_access_token(settings, sub="hr", scopes=["incidents:write"])}
    statuses: list[int] = []
    barrier = threading.Barrier(10)

    with TestClient(app, raise_server_exceptions=False) as client:

        def fire() -> None:
            barrier.wait()
            statuses.append(client.post("/v1/incidents", json=incident_body("race-2"), headers=hr).status_code)

        threads = [threading.Thread(target=fire) for _ in range(10)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)

    assert statuses == [201] * 10
    engine = build_engine(settings)
    try:
        with Session(engine) as session:
            cases = session.exec(select(EscalationCase).where(EscalationCase.subject_id == "race-2")).all()
            assert len(cases) == 1 and cases[0].version == 1
            assert verify(session).ok
    finally:
        engine.dispose()
