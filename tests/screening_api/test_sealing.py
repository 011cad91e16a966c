"""Sealing stored screenings into the audit chain: coverage, tamper detection, background task, races."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlmodel import Session, col, select

from app.audit import service as audit
from app.audit.models import AuditEvent
from app.db import build_engine
from app.main import create_app
from app.screening import sealing
from app.screening.models import Screening
from tests.conftest import make_settings
from tests.screening_api.factories import PHONE, W, post

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def _store(client, auth, n: int) -> list[str]:
    """Store `n` screenings, one fake millisecond apart (their order is the order sealed)."""
    clock = client.app.state.clock
    ids = []
    for i in range(n):
        r = client.post("/v1/screenings", json=post(f"Post {i}: ring me on {PHONE}"), headers=auth(W))
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
        if hasattr(clock, "advance"):
            clock.advance(0.001)
    return ids


def _seq_of(session: Session, screening_id: str) -> int | None:
    return session.exec(select(Screening.audit_seq).where(Screening.id == uuid.UUID(screening_id))).one()


def test_seal_covers_pending_screenings_once(client, auth, session):
    ids = _store(client, auth, 3)
    assert sealing.seal_pending(session) == 3
    seqs = {_seq_of(session, i) for i in ids}
    assert len(seqs) == 1 and None not in seqs
    seal = session.get(AuditEvent, seqs.pop())
    assert seal.action == sealing.SEAL_ACTION and seal.details["count"] == 3
    assert seal.details["first_id"] == ids[0] and seal.details["last_id"] == ids[-1]
    assert sealing.seal_pending(session) == 0, "nothing left to seal"
    report = sealing.verify_seals(session)
    assert report.ok and report.pending == 0 and report.sealed >= 3
    assert audit.verify(session).ok


def test_seal_respects_the_batch_size(client, auth, session):
    ids = _store(client, auth, 5)
    assert sealing.seal_pending(session, batch_size=2) == 2
    assert sealing.seal_pending(session, batch_size=2) == 2
    assert sealing.seal_pending(session, batch_size=2) == 1
    seqs = [seq for seq in (_seq_of(session, i) for i in ids) if seq is not None]
    assert len(seqs) == len(ids), "every screening is sealed"
    assert seqs[0] == seqs[1] < seqs[2] == seqs[3] < seqs[4], "oldest first, two per seal"
    assert sealing.verify_seals(session).ok


@pytest.mark.parametrize(
    ("tamper", "reason"),
    [
        ("UPDATE screening SET verdict = 'allow', rule_ids = ' ' WHERE id = :id", "edited"),
        ("UPDATE screening SET suggested_text = 'nothing to see' WHERE id = :id", "edited"),
        ("DELETE FROM screening WHERE id = :id", "deleted or re-labelled"),
        ("UPDATE screening SET audit_seq = NULL WHERE id = :id", "deleted or re-labelled"),
        ("UPDATE screening SET audit_seq = 999999 WHERE id = :id", "deleted or re-labelled"),
    ],
)
def test_tampering_with_a_sealed_screening_is_reported(client, auth, session, tamper, reason):
    ids = _store(client, auth, 3)
    sealing.seal_pending(session)
    seq = _seq_of(session, ids[1])
    # The id column's storage differs by dialect (CHAR(32) hex on SQLite, uuid on PostgreSQL).
    stored_id = uuid.UUID(ids[1]).hex if session.get_bind().dialect.name == "sqlite" else ids[1]
    session.execute(text(tamper), {"id": stored_id})
    report = sealing.verify_seals(session)
    assert not report.ok
    assert report.broken_seq == seq
    assert report.reason is not None and reason in report.reason


def test_a_screening_claiming_a_seal_that_does_not_exist_is_reported(client, auth, session):
    forged = _store(client, auth, 1)[0]  # never sealed
    stored_id = uuid.UUID(forged).hex if session.get_bind().dialect.name == "sqlite" else forged
    session.execute(text("UPDATE screening SET audit_seq = 999999 WHERE id = :id"), {"id": stored_id})
    report = sealing.verify_seals(session)
    assert not report.ok and report.broken_seq == 999999
    assert report.reason is not None and "not a seal event" in report.reason


def test_unsealed_screenings_are_counted_not_failed(client, auth, session):
    _store(client, auth, 2)
    report = sealing.verify_seals(session)
    assert report.ok and report.pending >= 2


def test_background_sealer_seals_within_the_interval_and_at_shutdown(fresh_database, auth):
    fast = create_app(make_settings(fresh_database.url, audit_seal_interval_seconds=0.2))
    with TestClient(fast) as client:
        ids = _store(client, auth, 2)
        deadline = time.monotonic() + 10
        with Session(fast.state.engine) as session:
            while time.monotonic() < deadline and sealing.pending_ids(session):
                session.rollback()  # a fresh snapshot on the next read
                time.sleep(0.05)
            assert all(_seq_of(session, i) is not None for i in ids), "sealed by the periodic task"
    slow = create_app(make_settings(fresh_database.url, audit_seal_interval_seconds=3600))
    with TestClient(slow) as client:
        late = _store(client, auth, 1)[0]
    engine = build_engine(make_settings(fresh_database.url))
    try:
        with Session(engine) as session:
            assert _seq_of(session, late) is not None, "a graceful stop seals what is pending"
            assert sealing.verify_seals(session).ok and audit.verify(session).ok
    finally:
        engine.dispose()


def test_concurrent_sealers_and_writers_seal_every_row_exactly_once(fresh_database):
    engine = build_engine(make_settings(fresh_database.url, db_pool_size=8))
    from app.screening.service import _INSERT_SCREENING

    writers, per_writer = 4, 40
    done = threading.Event()
    errors: list[BaseException] = []

    def write(w: int) -> None:
        try:
            for i in range(per_writer):
                with Session(engine) as session:
                    session.execute(_INSERT_SCREENING, _fake_row(f"w{w}-{i}"))
                    session.commit()
        except BaseException as exc:  # noqa: BLE001 (reported below)
            errors.append(exc)

    def seal() -> None:
        try:
            while not done.is_set():
                sealing.seal_all(engine, batch_size=7)
        except BaseException as exc:  # noqa: BLE001 (reported below)
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
    sealers = [threading.Thread(target=seal) for _ in range(2)]
    try:
        for t in threads + sealers:
            t.start()
        for t in threads:
            t.join(timeout=120)
        done.set()
        for t in sealers:
            t.join(timeout=120)
        assert not errors, errors
        sealing.seal_all(engine)
        with Session(engine) as session:
            report = sealing.verify_seals(session)
            assert report.ok, report
            assert report.sealed == writers * per_writer and report.pending == 0
            assert audit.verify(session).ok
            counts = session.exec(select(AuditEvent.details).where(AuditEvent.action == sealing.SEAL_ACTION)).all()
            assert sum(d["count"] for d in counts) == writers * per_writer, "no row sealed twice"
    finally:
        engine.dispose()


def test_verify_audit_cli_reports_broken_seals(fresh_database):
    engine = build_engine(make_settings(fresh_database.url))
    from app.screening.service import _INSERT_SCREENING

    try:
        with Session(engine) as session:
            session.execute(_INSERT_SCREENING, [_fake_row("a"), _fake_row("b")])
            session.commit()
        ok = _cli(fresh_database.url)
        assert ok.returncode == 0, ok.stdout + ok.stderr
        assert "0 screenings in 0 seals; 2 not sealed yet" in ok.stdout
        sealing.seal_all(engine)
        ok = _cli(fresh_database.url)
        assert ok.returncode == 0 and "2 screenings in 1 seals; 0 not sealed yet" in ok.stdout
        with engine.begin() as connection:
            connection.execute(text("UPDATE screening SET verdict = 'allow'"))
        broken = _cli(fresh_database.url)
        assert broken.returncode == 1
        assert "screening seals BROKEN at event" in broken.stdout and "edited" in broken.stdout
    finally:
        engine.dispose()


def _fake_row(author: str) -> dict[str, object]:
    from app.db import utcnow

    return {
        "id": uuid.uuid4(), "created_at": utcnow(), "created_by": "test", "author_id": author,
        "author_role": "staff", "platform": "x", "account": "personal", "authority_id": None,
        "text_hmac": "0" * 64, "text_length": 5, "suggested_text": "hello", "verdict": "block",
        "risk_score": 0.9, "rule_ids": " SM-CONFIDENTIAL ", "notes": [],
        "findings": [{"rule_id": "SM-CONFIDENTIAL", "confidence": 0.9, "spans": [{"start": 0, "end": 5}]}],
        "policy_version": "p", "engine_version": "e",
    }  # fmt: skip


def _cli(url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": url, "POLICY_LOG_LEVEL": "WARNING"}
    return subprocess.run(
        [sys.executable, "-m", "app", "verify-audit"],
        cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_seal_details_never_hold_post_content(client, auth, session):
    _store(client, auth, 1)
    sealing.seal_pending(session)
    seal = session.exec(
        select(AuditEvent).where(AuditEvent.action == sealing.SEAL_ACTION).order_by(col(AuditEvent.seq).desc())
    ).first()
    assert PHONE not in json.dumps(seal.details) and "ring me" not in json.dumps(seal.details)
