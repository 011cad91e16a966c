"""Alembic: upgrade, downgrade and upgrade again on both databases; models match migrations."""

from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from app.db_models import metadata
from tests.conftest import create_database, make_settings, migrate


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request, tmp_path):
    db = create_database(request.param, str(tmp_path))
    yield db
    db.drop()


def _tables(url):
    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def test_upgrade_downgrade_upgrade(empty_database):
    settings = make_settings(empty_database.url)
    migrate(settings, "upgrade", "head")
    assert _tables(empty_database.url) == set(metadata.tables)
    migrate(settings, "downgrade", "base")
    assert _tables(empty_database.url) == set()
    migrate(settings, "upgrade", "head")
    assert _tables(empty_database.url) == set(metadata.tables)


def test_models_and_migrations_agree(empty_database):
    settings = make_settings(empty_database.url)
    migrate(settings, "upgrade", "head")
    engine = create_engine(empty_database.url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            diff = compare_metadata(context, metadata)
    finally:
        engine.dispose()
    assert diff == [], f"autogenerate would change the schema: {diff}"


def test_0006_erases_unkeyed_digests(empty_database):
    """Rows stored before 0006 lose their unkeyed SHA-256 (text and request); records still replay."""
    import datetime as dt
    import uuid

    from sqlalchemy import text

    settings = make_settings(empty_database.url)
    migrate(settings, "upgrade", "0005")
    engine = create_engine(empty_database.url)
    now = dt.datetime(2026, 1, 5, 10, 0)
    unkeyed = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
    try:
        with engine.begin() as connection:
            connection.execute(text(
                "INSERT INTO screening (id, created_at, created_by, author_id, author_role, platform, account, "
                "text_sha256, text_length, suggested_text, verdict, risk_score, rule_ids, findings, notes, "
                "policy_version, engine_version) VALUES (:id, :at, 'hr', 'vol-1', 'volunteer', 'x', 'personal', "
                ":sha, 4, 'test', 'allow', 0, ' ', '[]', '[]', 'p', 'e')"
            ), {"id": uuid.uuid4().hex if engine.dialect.name == "sqlite" else str(uuid.uuid4()), "at": now,
                "sha": unkeyed})  # fmt: skip
            connection.execute(text(
                "INSERT INTO idempotency_record (id, principal, key, method, path, request_hash, status_code, "
                "response_body, response_headers, created_at, expires_at) VALUES (:id, 'hr', 'k', 'POST', "
                "'/v1/incidents', :sha, 201, '{}', '{}', :at, :at)"
            ), {"id": uuid.uuid4().hex if engine.dialect.name == "sqlite" else str(uuid.uuid4()), "at": now,
                "sha": unkeyed})  # fmt: skip
        migrate(settings, "upgrade", "head")
        with engine.connect() as connection:
            assert connection.execute(text("SELECT text_hmac FROM screening")).scalar_one() == ""
            assert connection.execute(text("SELECT request_fingerprint FROM idempotency_record")).scalar_one() == ""
        columns = {c["name"] for c in inspect(engine).get_columns("idempotency_record")}
        assert not {"method", "path", "request_hash"} & columns
        migrate(settings, "downgrade", "0005")
        with engine.connect() as connection:
            assert connection.execute(text("SELECT text_sha256 FROM screening")).scalar_one() == ""
    finally:
        engine.dispose()


def test_0006_voids_the_seals_it_invalidates_in_the_chain_and_verify_still_passes(empty_database):
    """Erasing a sealed column is recorded in the audit chain; the rows are sealed again and verify."""
    import datetime as dt
    import uuid

    from sqlalchemy import text
    from sqlmodel import Session

    from app.audit import service as audit
    from app.screening import sealing

    settings = make_settings(empty_database.url)
    migrate(settings, "upgrade", "0005")
    engine = create_engine(empty_database.url)
    at = dt.datetime(2026, 1, 5, 10, 0, tzinfo=dt.UTC)
    seal: dict[str, Any] = {"seq": 1, "occurred_at": at, "actor": "system:sealer", "action": "screenings.sealed",
            "target_type": "screening", "target_id": "x", "details": {"count": 1, "digest": "d"}}  # fmt: skip
    seal_hash = audit.event_hash(prev_hash="0" * 64, **seal)
    row_id = uuid.uuid4()
    try:
        with Session(engine) as session:
            session.execute(
                sa_insert_event(), {**seal, "details": seal["details"], "prev_hash": "0" * 64, "hash": seal_hash}
            )
            session.execute(text("UPDATE audit_head SET seq = 1, hash = :h WHERE id = 1"), {"h": seal_hash})
            session.execute(text(
                "INSERT INTO screening (id, created_at, created_by, author_id, author_role, platform, account, "
                "text_sha256, text_length, suggested_text, verdict, risk_score, rule_ids, findings, notes, "
                "policy_version, engine_version, audit_seq) VALUES (:id, :at, 'hr', 'vol-1', 'volunteer', 'x', "
                "'personal', :sha, 4, 'test', 'allow', 0, ' ', '[]', '[]', 'p', 'e', 1)"
            ), {"id": row_id.hex if engine.dialect.name == "sqlite" else str(row_id),
                "at": at.replace(tzinfo=None), "sha": "ab" * 32})  # fmt: skip
            session.commit()
        migrate(settings, "upgrade", "head")
        with Session(engine) as session:
            audit.make_checkpoint(session)  # keys the legacy chain (revision 0007), as after any upgrade
            session.commit()
            assert audit.verify(session).ok
            events = session.execute(text("SELECT action FROM audit_event ORDER BY seq")).scalars().all()
            assert events == ["screenings.sealed", "screenings.seals_voided", "audit.keyed"]
            assert sealing.pending_ids(session) == [row_id]
            assert sealing.verify_seals(session).ok
            assert sealing.seal_pending(session) == 1
            session.commit()
            assert audit.verify(session).ok and sealing.verify_seals(session).ok
            # The fresh seal guards the row again: an edit breaks it.
            session.execute(text("UPDATE screening SET verdict = 'block'"))
            assert not sealing.verify_seals(session).ok
            session.rollback()
    finally:
        engine.dispose()


def sa_insert_event():
    """Return an INSERT into audit_event through the model's table (JSON and time types applied)."""
    import sqlalchemy as sa

    # Revision 0005's columns only: later revisions add columns this database does not have yet.
    legacy = ("seq", "occurred_at", "actor", "action", "target_type", "target_id", "details", "prev_hash", "hash")
    model = metadata.tables["audit_event"]
    table = sa.Table(model.name, sa.MetaData(), *(sa.Column(c, model.c[c].type) for c in legacy))
    return table.insert()


def test_0009_marks_incidents_their_own_event_recorded_and_leaves_the_rest_to_the_sealer(empty_database):
    """Incidents recorded one by one before 0009 stay covered by their event; an unrecorded one is refused."""
    import datetime as dt
    import uuid

    import sqlalchemy as sa
    from sqlmodel import Session

    from app.audit import coverage
    from app.audit import keys as audit_keys
    from app.audit import service as audit
    from app.db import UTCDateTime
    from app.escalation.models import EscalationCase
    from app.incidents import sealing as incident_sealing

    settings = make_settings(empty_database.url)
    migrate(settings, "upgrade", "0008")
    engine = create_engine(empty_database.url)
    at = dt.datetime(2026, 11, 30, 9, 0, tzinfo=dt.UTC)
    case_id, recorded, unrecorded = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    # Revision 0008's incident columns only: this database does not have 0009's yet.
    legacy = sa.table(
        "incident", *(sa.column(c, sa.Uuid()) for c in ("id", "screening_id", "case_id")),
        *(sa.column(c, UTCDateTime()) for c in ("posted_at", "created_at")),
        *(sa.column(c) for c in ("subject_id", "subject_role", "platform", "url", "summary", "evidence", "reported_by")),
    )  # fmt: skip

    def incident(row_id: uuid.UUID) -> dict[str, object]:
        return {"id": row_id, "subject_id": "vol-9", "subject_role": "volunteer", "platform": "x", "url": None,
                "posted_at": at, "summary": "s", "evidence": None, "screening_id": None, "case_id": case_id,
                "reported_by": "hr", "created_at": at}  # fmt: skip

    keys = audit_keys.current()
    try:
        with Session(engine) as session:
            session.execute(sa.insert(EscalationCase.__table__).values(  # type: ignore[attr-defined]
                id=case_id, subject_id="vol-9", subject_role="volunteer", stage="none", status="open", version=1,
                disciplinary_referred=False, appeal_pending=False, appealable=False, created_at=at, updated_at=at,
            ))  # fmt: skip
            session.execute(sa.insert(legacy), [incident(recorded), incident(unrecorded)])
            event = audit.record(
                session, actor="hr", action="incident.created", target_type="incident", target_id=str(recorded),
                covers=[("escalation_case", case_id)],
                entries=[["incident", str(recorded), coverage.row_digest(keys, "incident", incident(recorded))]],
            )  # fmt: skip
            session.commit()
        migrate(settings, "upgrade", "head")
        with Session(engine) as session:
            seqs = dict(session.execute(sa.text("SELECT id, audit_seq FROM incident")).all())
            assert sorted(seqs.values(), key=str) == sorted([event.seq, None], key=str)
            report = audit.verify(session)
            assert report.content is not None and report.content.checked == 2  # the case, the recorded incident
            assert report.content.problems == [f"incident {unrecorded} does not match the digest written with it "
                                               "(inserted or edited behind the service)"]  # fmt: skip
            assert incident_sealing.seal_pending(session) == 1  # read and refused: it has no digest
            session.commit()
            assert incident_sealing.pending_count(session) == 0
            assert not audit.verify(session).ok
        migrate(settings, "downgrade", "0008")
        migrate(settings, "upgrade", "head")
    finally:
        engine.dispose()


@pytest.mark.parametrize("terms", [0, 1])
def test_0010_knows_no_lengths_for_terms_registered_before_it(empty_database, terms):
    """A registry with terms starts with every length (NULL); an empty one with none (0)."""
    import datetime as dt
    import uuid

    import sqlalchemy as sa

    settings = make_settings(empty_database.url)
    migrate(settings, "upgrade", "0009")
    engine = create_engine(empty_database.url)
    term = sa.table("protected_term", sa.column("id", sa.Uuid()), *(sa.column(c) for c in ("kind", "digest",
                    "created_by")), sa.column("created_at", sa.DateTime(timezone=True)))  # fmt: skip
    try:
        with engine.begin() as connection:
            for _ in range(terms):
                connection.execute(sa.insert(term).values(id=uuid.uuid4(), kind="child_name", digest="ab" * 32,
                                                          created_by="hr", created_at=dt.datetime.now(dt.UTC)))  # fmt: skip
        migrate(settings, "upgrade", "head")
        with engine.connect() as connection:
            mask = connection.execute(sa.text("SELECT ngram_sizes FROM protected_term_state WHERE id = 1")).scalar()
        assert mask == (None if terms else 0)
        migrate(settings, "downgrade", "0009")
        migrate(settings, "upgrade", "head")
    finally:
        engine.dispose()
