"""Retention: the purge removes expired records of each type, keeps live ones, and is audited."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlmodel import Session, select

from app.audit import service as audit
from app.audit.models import AuditEvent
from app.auth.models import AuthFailure
from app.db import build_engine, utcnow
from app.escalation.models import EscalationCase
from app.idempotency import IdempotencyRecord
from app.incidents.models import Incident
from app.main import create_app
from app.privacy import service as privacy
from app.screening import sealing
from app.screening.models import Screening
from tests.conftest import make_settings
from tests.privacy.factories import MANAGER, new_subject, populate

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def _age_screening(session: Session, screening_id: str, days: int) -> None:
    # Before sealing, so the seal covers the aged row (a screening stored `days` ago).
    stored = uuid.UUID(screening_id).hex if session.get_bind().dialect.name == "sqlite" else screening_id
    when = (utcnow() - dt.timedelta(days=days)).replace(tzinfo=None)
    session.execute(text("UPDATE screening SET created_at = :t WHERE id = :id"), {"t": when, "id": stored})


def test_purge_removes_expired_screenings_keeps_live_ones_and_the_chain_verifies(client, auth, session, settings):
    held = populate(client, auth, new_subject(), screenings=3, incidents=0, grant_and_ack=False)
    old, older, live = held.screening_ids
    _age_screening(session, old, settings.retention_screenings_days + 1)
    _age_screening(session, older, settings.retention_screenings_days + 30)
    sealing.seal_pending(session)  # all three in one seal: the purge must reseal it

    removal = privacy.purge(session=session, settings=settings, actor="tester")
    assert removal.counts["screenings"] == 2
    remaining = {str(i) for i in session.exec(select(Screening.id)).all()}
    assert live in remaining and old not in remaining and older not in remaining
    assert audit.verify(session).ok
    seals = sealing.verify_seals(session)
    assert seals.ok and seals.sealed == 1, seals.reason
    event = session.exec(select(AuditEvent).where(AuditEvent.action == privacy.PURGE_ACTION)).one()
    assert event.details["counts"]["screenings"] == 2 and event.actor == "tester"


def test_purge_removes_closed_cases_past_retention_and_keeps_open_ones(client, auth, session, settings):
    closed = populate(client, auth, new_subject(), screenings=0, incidents=2, grant_and_ack=False)
    open_ = populate(client, auth, new_subject(), screenings=0, incidents=1, grant_and_ack=False)
    resolved = client.post(
        f"/v1/escalations/{closed.subject_id}/resolve",
        json={"reason": "no further posts"},
        headers={**auth(MANAGER, sub="mgr-sam"), "If-Match": '"1"'},
    )
    assert resolved.status_code == 200, resolved.text

    # Not yet: the case was resolved just now.
    assert privacy.purge(session=session, settings=settings, actor="tester").counts["incidents"] == 0
    later = utcnow() + dt.timedelta(days=settings.retention_closed_cases_days + 1)
    removal = privacy.purge(session=session, settings=settings, actor="tester", now=later)
    assert removal.counts["incidents"] == 2 and removal.counts["escalation_cases"] == 1
    subjects = set(session.exec(select(EscalationCase.subject_id)).all())
    assert closed.subject_id not in subjects and open_.subject_id in subjects
    assert {str(i) for i in session.exec(select(Incident.id)).all()} >= set(open_.incident_ids)
    report = audit.verify(session)
    assert report.ok, report.reason


def test_purge_removes_expired_idempotency_records_and_token_failures(session, settings):
    now = utcnow()
    for key, expires in (("expired", now - dt.timedelta(minutes=1)), ("live", now + dt.timedelta(hours=1))):
        session.add(IdempotencyRecord(
            principal="hr", key=key, request_fingerprint="0" * 64,
            status_code=201, response_body={"id": "x"}, expires_at=expires,
        ))  # fmt: skip
    hours = settings.retention_token_failures_hours
    session.add(AuthFailure(key="client:old", failed_at=now - dt.timedelta(hours=hours + 1)))
    session.add(AuthFailure(key="client:new", failed_at=now))
    session.flush()
    removal = privacy.purge(session=session, settings=settings, actor="tester")
    assert removal.counts["idempotency_records"] == 1 and removal.counts["token_failures"] == 1
    assert session.exec(select(IdempotencyRecord.key)).all() == ["live"]
    assert session.exec(select(AuthFailure.key)).all() == ["client:new"]


def test_purge_cli_prints_counts_and_audits_each_run(fresh_database):
    settings = make_settings(fresh_database.url)
    engine = build_engine(settings)
    try:
        with Session(engine) as session:
            session.add(AuthFailure(key="ip:203.0.113.9", failed_at=utcnow() - dt.timedelta(days=3)))
            session.commit()
        env = {**os.environ, "DATABASE_URL": fresh_database.url, "POLICY_LOG_LEVEL": "WARNING"}
        result = subprocess.run(
            [sys.executable, "-m", "app", "purge"],
            cwd=PROJECT_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["purged"]["token_failures"] == 1
        with Session(engine) as session:
            assert session.exec(select(AuthFailure)).all() == []
            events = session.exec(select(AuditEvent).where(AuditEvent.action == privacy.PURGE_ACTION)).all()
            assert [(e.actor, e.details["counts"]["token_failures"]) for e in events] == [("cli", 1)]
            assert audit.verify(session).ok
    finally:
        engine.dispose()


def test_background_purge_runs_on_its_interval(fresh_database):
    settings = make_settings(fresh_database.url, purge_interval_seconds=0.2)
    engine = build_engine(settings)
    try:
        with Session(engine) as session:
            session.add(AuthFailure(key="ip:203.0.113.10", failed_at=utcnow() - dt.timedelta(days=3)))
            session.commit()
        with TestClient(create_app(settings, engine=build_engine(settings))):
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                with Session(engine) as session:
                    if not session.exec(select(AuthFailure)).all():
                        break
                time.sleep(0.1)
        with Session(engine) as session:
            assert session.exec(select(AuthFailure)).all() == []
            actors = {
                e.actor for e in session.exec(select(AuditEvent).where(AuditEvent.action == privacy.PURGE_ACTION))
            }
            assert actors == {"system:retention"}
    finally:
        engine.dispose()
