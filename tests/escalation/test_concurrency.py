"""Twenty simultaneous advances of one case version: exactly one wins, on SQLite and PostgreSQL.

Real separate sessions: the app is built on a fresh database WITHOUT the per-test session override,
and the requests come from 20 threads at once (sync routes run in the worker thread pool).
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter
from collections.abc import Callable
from functools import partial

import httpx
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from app.audit.service import verify
from app.auth.tokens import create_access_token
from app.db import build_engine
from app.escalation import service as escalation
from app.escalation.ladder import Action
from app.escalation.models import EscalationCase, EscalationEvent
from app.incidents import sealing as incident_sealing
from app.incidents import service as incidents
from app.incidents.schemas import IncidentCreate
from app.main import create_app
from tests.conftest import hold_then_wait, make_settings
from tests.incidents.factories import incident_body

N = 20


def _all_at_once(calls: list[Callable[[], httpx.Response]]) -> list[httpx.Response]:
    """Run each call in its own thread, released together by a barrier; return the responses in order."""
    barrier = threading.Barrier(len(calls))
    responses: list[httpx.Response | None] = [None] * len(calls)

    def run(i: int) -> None:
        barrier.wait()
        responses[i] = calls[i]()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert all(r is not None for r in responses), "a request did not finish"
    return [r for r in responses if r is not None]


def _advances(
    client: TestClient, subject_id: str, headers: dict[str, str], n: int
) -> list[Callable[[], httpx.Response]]:
    """`n` advances of the subject's case from version 1, each its own call."""
    return [
        partial(
            client.post,
            f"/v1/escalations/{subject_id}/advance",
            json={"reason": f"attempt {i}"},
            headers={**headers, "If-Match": '"1"'},
        )
        for i in range(n)
    ]


def test_simultaneous_advances_exactly_one_succeeds(fresh_database):
    settings = make_settings(fresh_database.url, db_pool_size=N)
    app = create_app(settings)
    hr = {"Authorization": "Bearer " + create_access_token(settings, sub="hr", scopes=["incidents:write"])}
    mgr = {"Authorization": "Bearer " + create_access_token(settings, sub="mgr", scopes=["escalations:write"])}
    with TestClient(app, raise_server_exceptions=False) as client:
        created = client.post("/v1/incidents", json=incident_body("race-1"), headers=hr)
        assert created.status_code == 201, created.text
        responses = _all_at_once(_advances(client, "race-1", mgr, N))
    statuses = [r.status_code for r in responses]

    assert Counter(statuses) == Counter({200: 1, 412: N - 1}), Counter(statuses)
    engine = build_engine(settings)
    try:
        with Session(engine) as session:
            case = session.exec(select(EscalationCase).where(EscalationCase.subject_id == "race-1")).one()
            assert (case.stage, case.version) == ("spoken_to", 2)
            events = session.exec(select(EscalationEvent).where(EscalationEvent.case_id == case.id)).all()
            assert sorted(e.kind for e in events) == ["advanced", "opened"]
            report = verify(session)
            assert report.ok and report.checked == 2, report  # opened, one advance
            assert report.pending == 1, report  # the incident, until the sealer records it
        assert incident_sealing.seal_all(engine) == 1
        with Session(engine) as session:
            report = verify(session)
            assert report.ok and report.checked == 3 and report.pending == 0, report
    finally:
        engine.dispose()


def test_simultaneous_first_incidents_open_one_case(fresh_database):
    settings = make_settings(fresh_database.url, db_pool_size=10)
    app = create_app(settings)
    hr = {"Authorization": "Bearer " + create_access_token(settings, sub="hr", scopes=["incidents:write"])}
    with TestClient(app, raise_server_exceptions=False) as client:
        post = partial(client.post, "/v1/incidents", json=incident_body("race-2"), headers=hr)
        statuses = [r.status_code for r in _all_at_once([post] * 10)]

    assert statuses == [201] * 10
    engine = build_engine(settings)
    try:
        with Session(engine) as session:
            cases = session.exec(select(EscalationCase).where(EscalationCase.subject_id == "race-2")).all()
            assert len(cases) == 1 and cases[0].version == 1
            assert verify(session).ok
    finally:
        engine.dispose()


def test_incidents_recorded_during_simultaneous_advances_are_each_counted_once(fresh_database):
    """Ten advances race ten new incidents: one step wins, and every incident is cited by it or counts after it.

    Incidents no longer queue on the audit chain, so only the case's row lock orders them against a
    step: an incident the step did not see must still count towards the next one ("repeated").
    """
    n = 10
    settings = make_settings(fresh_database.url, db_pool_size=2 * n + 2)
    app = create_app(settings)
    scopes = ["incidents:write", "escalations:read", "escalations:write"]
    headers = {"Authorization": "Bearer " + create_access_token(settings, sub="hr-mgr", scopes=scopes)}
    with TestClient(app, raise_server_exceptions=False) as client:
        first = client.post("/v1/incidents", json=incident_body("race-3"), headers=headers)
        assert first.status_code == 201, first.text
        advance = _advances(client, "race-3", headers, n)
        record = partial(client.post, "/v1/incidents", json=incident_body("race-3"), headers=headers)
        responses = _all_at_once(advance + [record] * n)
        case = client.get("/v1/escalations/race-3", headers=headers).json()

    advances = [r.status_code for r in responses[:n]]
    failures = [r.text for r in responses[n:] if r.status_code != 201]
    recorded = [r.json()["id"] for r in responses[n:] if r.status_code == 201]
    assert failures == []
    assert Counter(advances) == Counter({200: 1, 412: n - 1}), Counter(advances)
    step = next(e for e in case["history"] if e["kind"] == "advanced")
    cited = set(step["incident_ids"])
    after = {i["id"] for i in case["incidents_since_last_step"]}
    assert cited.isdisjoint(after)
    assert cited | after == {first.json()["id"], *recorded}, "an incident is neither in the step nor after it"
    engine = build_engine(settings)
    try:
        assert incident_sealing.seal_all(engine) == n + 1
        with Session(engine) as session:
            report = verify(session)
            assert report.ok and report.pending == 0, report
    finally:
        engine.dispose()


def _interleave(
    fresh_database, *, step_first: bool, incident_after: int = 1, step_after: int = 2
) -> tuple[set[str], set[str], str]:
    """One transaction holds the case (a step, or an incident) while the other starts and must wait.

    Each clock reads `*_after` seconds past the first incident: by default the incident's reads
    earlier than the step's, as when its request began before the step committed. Returns (incident
    ids the step cited, incident ids counted after it, the new incident's id).
    """
    settings = make_settings(fresh_database.url)
    engine = build_engine(settings)
    base = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    incident_in = IncidentCreate.model_validate(incident_body("race-4"))
    try:
        with Session(engine) as session:
            incidents.create(session=session, incident_in=incident_in, actor="hr", now=base)
            session.commit()

        def step(session: Session) -> None:
            escalation.apply_action(
                session=session, subject_id="race-4", action=Action.ADVANCE, expected_version=1, actor="mgr",
                reason="repeated", incidents=incidents.CASE_INCIDENTS, now=base + dt.timedelta(seconds=step_after),
            )  # fmt: skip

        created: list[str] = []

        def record(session: Session) -> None:
            incident, _ = incidents.create(
                session=session, incident_in=incident_in, actor="hr", now=base + dt.timedelta(seconds=incident_after)
            )
            created.append(str(incident.id))

        first, second = (step, record) if step_first else (record, step)
        hold_then_wait(engine, first, second)
        with Session(engine) as session:
            case = escalation.get_by_subject(session=session, subject_id="race-4")
            cited = {
                i
                for e in escalation.history(session=session, case=case)
                for i in e.incident_ids
                if e.kind == "advanced"
            }
            after = {
                str(i.id)
                for i in escalation.incidents_since_last_step(
                    session=session, case=case, incidents=incidents.CASE_INCIDENTS
                )
            }
        return cited, after, created[0]
    finally:
        engine.dispose()


def test_an_incident_that_waited_for_a_step_counts_towards_the_next_one(fresh_database):
    cited, after, new = _interleave(fresh_database, step_first=True)
    assert new not in cited
    assert after == {new}, "the incident recorded after the step does not count towards the next one"


def test_a_step_that_waited_for_an_incident_cites_it(fresh_database):
    cited, after, new = _interleave(fresh_database, step_first=False)
    assert new in cited and len(cited) == 2, "the step did not count the incident committed before it"
    assert after == set()


def test_a_step_whose_clock_read_before_an_incident_it_waited_for_still_counts_it_once(fresh_database):
    # The step's request read the clock, then waited while an incident stamped later committed.
    cited, after, new = _interleave(fresh_database, step_first=False, incident_after=3, step_after=2)
    assert new in cited and len(cited) == 2, "the step did not count the incident committed before it"
    assert after == set(), "an incident the step counted also counts towards the next step"
