"""The keyed chain covers content: each tampering makes `verify-audit` exit 1 naming what changed.

Each test builds real records through the API on a fresh database (SQLite and PostgreSQL), tampers
as someone with database access but without the service secret would, and runs the CLI.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session

from app.audit import service as audit
from app.audit.keys import derive
from app.db import build_engine, utcnow
from app.incidents import sealing as incident_sealing
from app.main import create_app
from tests.audit.tampering import drop_append_only_guards, rehash_without_key
from tests.conftest import create_database, make_settings, migrate
from tests.incidents.factories import HR, MANAGER, record

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SUBJECT = "vol-tamper-01"


def cli(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run `python -m app ARGS` against the database at `url`."""
    env = {**os.environ, "DATABASE_URL": url, "POLICY_LOG_LEVEL": "WARNING"}
    return subprocess.run(
        [sys.executable, "-m", "app", *args], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=120
    )


@dataclass
class World:
    """A fresh database: one subject's sealed incident, a case advanced once, one incident not sealed yet."""

    url: str
    dialect: str
    engine: Engine
    incident_id: str
    case_id: str
    pending_id: str

    def stored(self, row_id: str) -> str:
        """The id as raw SQL must spell it (SQLite keeps UUIDs as 32 hex digits)."""
        return uuid.UUID(row_id).hex if self.dialect == "sqlite" else row_id

    def tamper(self, sql: str, **params: object) -> None:
        with self.engine.begin() as connection:
            connection.execute(text(sql), params)


@pytest.fixture
def world(fresh_database, auth) -> Iterator[World]:
    settings = make_settings(fresh_database.url)
    engine = build_engine(settings)
    with TestClient(create_app(settings, engine=build_engine(settings))) as client:
        hr = auth(HR, sub="hr-anna")
        incident = record(client, hr, SUBJECT, summary="Posted the centre's door code.")
        mgr = auth(MANAGER, sub="mgr-sam")
        advanced = client.post(
            f"/v1/escalations/{SUBJECT}/advance", json={"reason": "repeated"}, headers={**mgr, "If-Match": '"1"'}
        )
        assert advanced.status_code == 200, advanced.text
        assert incident_sealing.seal_all(engine) == 1  # what a worker's sealer does a moment later
        pending = record(client, hr, SUBJECT, summary="Posted the door code again.")
    with Session(engine) as session:
        case_id = session.execute(text("SELECT id FROM escalation_case")).scalar_one()
    yield World(
        fresh_database.url, fresh_database.dialect, engine, incident["id"], str(uuid.UUID(str(case_id))), pending["id"]
    )
    engine.dispose()


def test_untouched_chain_and_rows_verify(world):
    result = cli(world.url, "verify-audit")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "audit chain intact" in result.stdout
    assert "audited rows intact: 4 rows" in result.stdout  # incident, case, two case events
    assert "1 incidents not sealed yet match the digest written with them" in result.stdout


def test_a_sealed_incident_is_listed_in_its_seal_event(world):
    with Session(world.engine) as session:
        rows = session.execute(
            text("SELECT details FROM audit_event WHERE action = :a"), {"a": incident_sealing.SEAL_ACTION}
        ).scalar_one()
    details = json.loads(rows) if isinstance(rows, str) else rows
    assert details["count"] == 1
    assert [entry[:2] for entry in details["rows"]] == [["incident", world.incident_id]]


def test_sealing_the_pending_incident_keeps_everything_intact(world):
    assert incident_sealing.seal_all(world.engine) == 1
    result = cli(world.url, "verify-audit")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "audited rows intact: 5 rows" in result.stdout
    assert "not sealed yet" not in result.stdout.split("audited rows intact")[1].split("\n")[0]


def test_a_pending_incident_edited_before_sealing_is_named_and_never_sealed(world):
    world.tamper("UPDATE incident SET summary = 'nothing' WHERE id = :id", id=world.stored(world.pending_id))
    result = cli(world.url, "verify-audit")
    assert result.returncode == 1
    assert f"incident {world.pending_id} does not match the digest written with it" in result.stdout
    assert incident_sealing.seal_all(world.engine) == 1  # read, refused
    with Session(world.engine) as session:
        assert incident_sealing.pending_count(session) == 0
        sealed = session.execute(
            text("SELECT count(*) FROM audit_event WHERE action = :a"), {"a": incident_sealing.SEAL_ACTION}
        ).scalar_one()
    assert sealed == 1, "the edited incident was sealed as if it were genuine"
    result = cli(world.url, "verify-audit")
    assert result.returncode == 1
    assert f"incident {world.pending_id} was refused by the sealer" in result.stdout


def test_an_incident_inserted_behind_the_service_is_named_before_and_after_a_seal_pass(world):
    copied = uuid.uuid4()
    world.tamper(
        "INSERT INTO incident (id, subject_id, subject_role, platform, posted_at, summary, case_id, reported_by, "
        "created_at, audit_digest) SELECT :new, subject_id, subject_role, platform, posted_at, 'forged', case_id, "
        "reported_by, created_at, audit_digest FROM incident WHERE id = :id",
        new=copied.hex if world.dialect == "sqlite" else copied,
        id=world.stored(world.pending_id),
    )
    result = cli(world.url, "verify-audit")
    assert result.returncode == 1
    assert f"incident {copied} does not match the digest written with it" in result.stdout
    incident_sealing.seal_all(world.engine)
    result = cli(world.url, "verify-audit")
    assert result.returncode == 1
    assert f"incident {copied} was refused by the sealer" in result.stdout


def test_edited_incident_summary_is_named(world):
    world.tamper("UPDATE incident SET summary = 'nothing happened' WHERE id = :id", id=world.stored(world.incident_id))
    result = cli(world.url, "verify-audit")
    assert result.returncode == 1
    assert f"incident {world.incident_id} was edited" in result.stdout


def test_edited_incident_subject_is_named(world):
    world.tamper("UPDATE incident SET subject_id = 'someone-else' WHERE id = :id", id=world.stored(world.incident_id))
    result = cli(world.url, "verify-audit")
    assert result.returncode == 1
    assert f"incident {world.incident_id} was edited" in result.stdout


def test_a_sealed_incident_marked_pending_again_and_edited_is_named(world):
    world.tamper(
        "UPDATE incident SET audit_seq = NULL, summary = 'nothing' WHERE id = :id", id=world.stored(world.incident_id)
    )
    result = cli(world.url, "verify-audit")
    assert result.returncode == 1
    assert f"incident {world.incident_id} was edited" in result.stdout


def test_deleted_incident_is_named(world):
    world.tamper("DELETE FROM incident WHERE id = :id", id=world.stored(world.incident_id))
    result = cli(world.url, "verify-audit")
    assert result.returncode == 1
    assert f"incident {world.incident_id} is missing" in result.stdout


def test_changed_case_stage_is_named(world):
    world.tamper("UPDATE escalation_case SET stage = 'none' WHERE id = :id", id=world.stored(world.case_id))
    result = cli(world.url, "verify-audit")
    assert result.returncode == 1
    assert f"escalation_case {world.case_id} was edited" in result.stdout


def test_inserted_row_is_named(world):
    with Session(world.engine) as session:
        grant_id = uuid.uuid4()
        session.execute(
            text(
                "INSERT INTO authority_grant (id, person_id, topic, valid_from, valid_until, granted_by, created_at) "
                "VALUES (:id, 'vol-x', 'anything', :t, :t, 'nobody', :t)"
            ),
            {"id": grant_id.hex if world.dialect == "sqlite" else grant_id, "t": "2099-01-01 00:00:00"},
        )
        session.commit()
    result = cli(world.url, "verify-audit")
    assert result.returncode == 1
    assert f"authority_grant {grant_id} is not recorded in the audit chain" in result.stdout


def test_rehash_with_the_old_unkeyed_rule_fails(world):
    with world.engine.begin() as connection:
        connection.execute(text("UPDATE incident SET summary = 'edited'"))
        rehash_without_key(connection)
    result = cli(world.url, "verify-audit")
    assert result.returncode == 1
    assert "no event is keyed" in result.stdout


def test_rehash_with_a_guessed_key_fails(world):
    with world.engine.begin() as connection:
        connection.execute(text("UPDATE incident SET summary = 'edited'"))
        rehash_without_key(connection, keyed_with=b"a-guess-at-the-service-secret-0000000000")
    result = cli(world.url, "verify-audit")
    assert result.returncode == 1
    assert "BROKEN at event 1: content does not match its hash (wrong key" in result.stdout


def test_truncated_tail_is_detected_without_a_checkpoint(world):
    # Drop the last two events (the advance, then the incidents' seal) and move the head back: the
    # chain itself is consistent, but the rows no longer match what the remaining chain recorded.
    with world.engine.begin() as connection:
        drop_append_only_guards(connection)
        tail = connection.execute(text("SELECT seq, prev_hash FROM audit_event ORDER BY seq DESC LIMIT 2")).all()
        connection.execute(text("DELETE FROM audit_event WHERE seq >= :s"), {"s": tail[-1].seq})
        connection.execute(
            text("UPDATE audit_head SET seq = :s, hash = :h"), {"s": tail[-1].seq - 1, "h": tail[-1].prev_hash}
        )
    result = cli(world.url, "verify-audit")
    assert result.returncode == 1
    assert f"escalation_case {world.case_id} was edited" in result.stdout
    assert "escalation_event" in result.stdout and "is not recorded in the audit chain" in result.stdout
    assert f"incident {world.incident_id} is not recorded in the audit chain" in result.stdout


def _checkpoint(world, tmp_path) -> tuple[Path, dict]:
    made = cli(world.url, "audit-checkpoint")
    assert made.returncode == 0, made.stderr
    checkpoint = json.loads(made.stdout.strip().splitlines()[-1])
    assert set(checkpoint) == {"seq", "hash", "created_at", "signature"}
    path = tmp_path / "checkpoint.json"
    path.write_text(json.dumps(checkpoint))
    return path, checkpoint


def test_checkpoint_matches_a_chain_that_grew(world, tmp_path):
    path, checkpoint = _checkpoint(world, tmp_path)
    with Session(world.engine) as session:
        audit.record(session, actor="t", action="test.event", target_type="thing", target_id="1")
        session.commit()
    result = cli(world.url, "verify-audit", "--checkpoint", str(path))
    assert result.returncode == 0, result.stdout
    assert f"audit checkpoint matches: event {checkpoint['seq']}" in result.stdout


def test_checkpoint_detects_truncation(world, tmp_path):
    path, checkpoint = _checkpoint(world, tmp_path)
    with world.engine.begin() as connection:
        drop_append_only_guards(connection)
        prev = connection.execute(
            text("SELECT prev_hash FROM audit_event WHERE seq = :s"), {"s": checkpoint["seq"]}
        ).scalar_one()
        connection.execute(text("DELETE FROM audit_event WHERE seq = :s"), {"s": checkpoint["seq"]})
        connection.execute(text("UPDATE audit_head SET seq = :s, hash = :h"), {"s": checkpoint["seq"] - 1, "h": prev})
    result = cli(world.url, "verify-audit", "--checkpoint", str(path))
    assert result.returncode == 1
    assert f"the chain is truncated: its head is event {checkpoint['seq'] - 1}" in result.stdout


def test_checkpoint_detects_a_fork(world, tmp_path):
    path, checkpoint = _checkpoint(world, tmp_path)
    with world.engine.begin() as connection:
        rehash_without_key(connection, keyed_with=b"another-key-entirely-000000000000000000")
    result = cli(world.url, "verify-audit", "--checkpoint", str(path))
    assert result.returncode == 1
    assert f"the chain is forked: event {checkpoint['seq']} has a different hash" in result.stdout


def test_forged_checkpoint_is_refused(world, tmp_path):
    path, checkpoint = _checkpoint(world, tmp_path)
    path.write_text(json.dumps({**checkpoint, "seq": checkpoint["seq"] + 5}))
    result = cli(world.url, "verify-audit", "--checkpoint", str(path))
    assert result.returncode == 1
    assert "signature is invalid" in result.stdout
    path.write_text("not json")
    unreadable = cli(world.url, "verify-audit", "--checkpoint", str(path))
    assert unreadable.returncode == 2 and "cannot read the checkpoint" in unreadable.stderr


def test_the_database_refuses_update_and_delete_of_audit_events(world):
    for statement in ("UPDATE audit_event SET actor = 'forger' WHERE seq = 1", "DELETE FROM audit_event WHERE seq = 1"):
        with pytest.raises(DBAPIError, match="append-only"), world.engine.begin() as connection:
            connection.execute(text(statement))
    if world.dialect == "postgresql":
        with pytest.raises(DBAPIError, match="append-only"), world.engine.begin() as connection:
            connection.execute(text("TRUNCATE audit_event"))
    with Session(world.engine) as session:
        assert audit.verify(session).ok


def test_keys_are_derived_per_use_and_from_the_secret():
    keys = derive("secret-one-secret-one-secret-one-00")
    assert len({keys.chain, keys.row, keys.subject, keys.checkpoint}) == 4
    assert derive("secret-two-secret-two-secret-two-00").chain != keys.chain
    # Protected terms use the raw secret as their HMAC key: no audit key may equal it.
    assert b"secret-one-secret-one-secret-one-00" not in {keys.chain, keys.row, keys.subject, keys.checkpoint}


def test_legacy_events_verify_with_the_old_rule_until_the_switch_over(tmp_path):
    db = create_database("sqlite", str(tmp_path))
    settings = make_settings(db.url)
    migrate(settings, "upgrade", "0005")
    engine = build_engine(settings)
    try:
        # Two events written by the code before revision 0007: plain SHA-256, no `keyed` column.
        with engine.begin() as connection:
            prev = audit.GENESIS_HASH
            for seq in (1, 2):
                fields: dict[str, Any] = {
                    "seq": seq, "occurred_at": utcnow(), "actor": "hr", "action": "legacy.event",
                    "target_type": "thing", "target_id": str(seq), "details": {"n": seq},
                }  # fmt: skip
                digest = audit.event_hash(prev_hash=prev, **fields)
                connection.execute(
                    text(
                        "INSERT INTO audit_event (seq, occurred_at, actor, action, target_type, target_id, details, "
                        "prev_hash, hash) VALUES (:seq, :occurred_at, :actor, :action, :target_type, :target_id, "
                        ":details, :prev, :hash)"
                    ),
                    {**fields, "occurred_at": fields["occurred_at"].replace(tzinfo=None), "details": json.dumps(fields["details"]),
                     "prev": prev, "hash": digest},
                )  # fmt: skip
                prev = digest
            connection.execute(text("UPDATE audit_head SET seq = 2, hash = :h WHERE id = 1"), {"h": prev})
        migrate(settings, "upgrade", "head")
        with Session(engine) as session:
            unkeyed = audit.verify(session)
            assert not unkeyed.ok and unkeyed.reason is not None
            assert "no event is keyed" in unkeyed.reason
            audit.make_checkpoint(session)  # keys the chain: appends the audit.keyed switch-over
            session.commit()
            report = audit.verify(session)
            assert report.ok and report.legacy_events == 2 and report.checked == 3
            audit.record(session, actor="t", action="test.event", target_type="thing", target_id="3")
            session.commit()
            assert audit.verify(session).ok
        # Marking a keyed event as legacy (to rehash it without the key) breaks the chain.
        with engine.begin() as connection:
            drop_append_only_guards(connection)
            connection.execute(text("UPDATE audit_event SET keyed = 0 WHERE seq = 4"))
        with Session(engine) as session:
            broken = audit.verify(session)
            assert broken.reason is not None and "unkeyed event follows keyed ones" in broken.reason
    finally:
        engine.dispose()
        db.drop()


def test_downgrade_drops_the_append_only_guards(tmp_path):
    db = create_database("sqlite", str(tmp_path))
    settings = make_settings(db.url)
    migrate(settings)
    engine = build_engine(settings)
    try:
        with Session(engine) as session:
            audit.record(session, actor="t", action="test.event", target_type="thing", target_id="1")
            session.commit()
        migrate(settings, "downgrade", "0006")
        with engine.begin() as connection:
            connection.execute(text("UPDATE audit_event SET actor = 'changed' WHERE seq = 1"))
            connection.execute(text("DELETE FROM audit_event"))
        migrate(settings, "upgrade", "head")
    finally:
        engine.dispose()
        db.drop()
