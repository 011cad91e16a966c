"""The hash-chained audit log: verification, tamper and deletion detection, CLI, concurrent appends."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

from sqlalchemy import text
from sqlmodel import Session, col, select

from app.audit import service as audit
from app.audit.models import GENESIS_HASH, AuditEvent, AuditHead
from app.db import build_engine
from tests.audit.tampering import drop_append_only_guards
from tests.conftest import make_settings

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def _append(session: Session, n: int, *, actor: str = "tester") -> list[int]:
    seqs = []
    for i in range(n):
        event = audit.record(
            session,
            actor=actor,
            action="test.event",
            target_type="thing",
            target_id=f"t-{i}",
            details={"n": i},
        )
        seqs.append(event.seq)
    return seqs


def test_verify_ok_after_several_appends(session):
    before = audit.verify(session)
    assert before.ok
    seqs = _append(session, 5)
    assert seqs == list(range(seqs[0], seqs[0] + 5))
    report = audit.verify(session)
    assert report.ok and report.checked == before.checked + 5
    events = session.exec(select(AuditEvent).order_by(col(AuditEvent.seq))).all()
    assert events[0].prev_hash == GENESIS_HASH
    assert all(later.prev_hash == earlier.hash for earlier, later in zip(events, events[1:], strict=False))


def test_edited_row_is_reported_at_its_seq(session):
    seqs = _append(session, 4)
    target = seqs[1]
    drop_append_only_guards(session)
    session.execute(
        text("UPDATE audit_event SET details = :d WHERE seq = :s"),
        {"d": json.dumps({"n": 999}), "s": target},
    )
    report = audit.verify(session)
    assert not report.ok
    assert report.broken_seq == target
    assert report.reason is not None and "hash" in report.reason


def test_edited_actor_is_detected(session):
    seqs = _append(session, 3)
    drop_append_only_guards(session)
    session.execute(text("UPDATE audit_event SET actor = 'someone-else' WHERE seq = :s"), {"s": seqs[2]})
    assert audit.verify(session).broken_seq == seqs[2]


def test_deleted_row_is_detected(session):
    seqs = _append(session, 4)
    drop_append_only_guards(session)
    session.execute(text("DELETE FROM audit_event WHERE seq = :s"), {"s": seqs[1]})
    report = audit.verify(session)
    assert not report.ok and report.broken_seq == seqs[1]
    assert report.reason is not None and "missing" in report.reason


def test_deleted_last_row_is_detected_by_the_head(session):
    seqs = _append(session, 3)
    drop_append_only_guards(session)
    session.execute(text("DELETE FROM audit_event WHERE seq = :s"), {"s": seqs[-1]})
    report = audit.verify(session)
    assert not report.ok and report.broken_seq == seqs[-1]
    assert report.reason is not None and "head" in report.reason


def test_stale_head_in_a_long_lived_session_does_not_fork_the_chain(fresh_database):
    # Sessions don't expire on commit; a head row still held in one session's identity map must not
    # be reused after another session appended (appends read the locked head from the database).
    engine = build_engine(make_settings(fresh_database.url))
    first = Session(engine, expire_on_commit=False)
    second = Session(engine, expire_on_commit=False)
    try:
        _append(first, 1)
        first.commit()
        held = first.get(AuditHead, 1)  # keeps the head alive in `first`'s identity map
        assert held is not None
        first.commit()
        _append(second, 1)
        second.commit()
        assert held.seq == 1  # the stale copy `first` still holds ...
        assert _append(first, 1) == [3]  # ... is not what the append chains onto
        first.commit()
        with Session(engine) as fresh:
            assert audit.verify(fresh).ok
    finally:
        first.close()
        second.close()
        engine.dispose()


def _cli(url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": url, "POLICY_LOG_LEVEL": "WARNING"}
    return subprocess.run(
        [sys.executable, "-m", "app", "verify-audit"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_verify_audit_cli_exit_codes(fresh_database):
    engine = build_engine(make_settings(fresh_database.url))
    try:
        with Session(engine) as session:
            _append(session, 3)
            session.commit()
        ok = _cli(fresh_database.url)
        assert ok.returncode == 0, ok.stderr
        assert "intact: 3 events" in ok.stdout
        with engine.begin() as connection:
            drop_append_only_guards(connection)
            connection.execute(text("UPDATE audit_event SET target_id = 'forged' WHERE seq = 2"))
        broken = _cli(fresh_database.url)
        assert broken.returncode == 1
        assert "BROKEN at event 2" in broken.stdout
    finally:
        engine.dispose()


def test_concurrent_appends_make_a_gapless_unforked_chain(fresh_database):
    threads_n, per_thread = 12, 5
    engine = build_engine(make_settings(fresh_database.url, db_pool_size=threads_n))
    barrier = threading.Barrier(threads_n)
    errors: list[BaseException] = []

    def worker(i: int) -> None:
        try:
            barrier.wait()
            for _ in range(per_thread):
                # One transaction per append, each in its own session, like concurrent requests.
                with Session(engine) as session:
                    _append(session, 1, actor=f"worker-{i}")
                    session.commit()
        except BaseException as exc:  # noqa: BLE001  (reported below)
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(threads_n)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert not errors, errors
        with Session(engine) as session:
            events = session.exec(select(AuditEvent).order_by(col(AuditEvent.seq))).all()
            total = threads_n * per_thread
            assert [e.seq for e in events] == list(range(1, total + 1))  # gapless
            assert len({e.prev_hash for e in events}) == total  # unforked: no tip used twice
            head = session.get(AuditHead, 1)
            assert head is not None and head.seq == total and head.hash == events[-1].hash
            report = audit.verify(session)
            assert report.ok and report.checked == total
    finally:
        engine.dispose()
