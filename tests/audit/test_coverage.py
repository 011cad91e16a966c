"""Row digests in audit events: every write path records what it changed, and verification agrees."""

from __future__ import annotations

from sqlmodel import col, select

from app.audit import service as audit
from app.audit.keys import current as audit_keys
from app.audit.models import AuditEvent
from app.incidents import sealing as incident_sealing
from tests.incidents.factories import HR, record
from tests.screening_api.factories import grant


def _event(session, action: str) -> AuditEvent:
    return session.exec(
        select(AuditEvent).where(AuditEvent.action == action).order_by(col(AuditEvent.seq).desc())
    ).first()


def test_a_deleted_protected_term_is_recorded_as_removed(client, auth, session):
    scope = auth("protected-terms:write", sub="hr-anna")
    created = client.post(
        "/v1/protected-terms", json={"kind": "child_name", "value": "Tobias Wrenfield"}, headers=scope
    )
    assert created.status_code == 201, created.text
    term_id = created.json()["id"]
    assert client.delete(f"/v1/protected-terms/{term_id}", headers=scope).status_code == 204
    assert _event(session, "protected_term.deleted").details["rows"] == [["protected_term", term_id, None]]
    report = audit.verify(session)
    assert report.ok, report.reason


def test_a_role_change_on_an_open_case_is_covered_by_its_own_event(client, auth, session):
    record(client, auth(HR, sub="hr-anna"), "vol-role-1", role="volunteer")
    record(client, auth(HR, sub="hr-anna"), "vol-role-1", role="staff")  # updates the case's role, no ladder event
    rows = _event(session, "escalation.role_changed").details["rows"]
    assert [row_type for row_type, _, _ in rows] == ["escalation_case"]
    report = audit.verify(session)
    assert report.ok, report.reason
    assert report.pending == 2  # both incidents wait for the sealer, their digests intact
    incident_sealing.seal_pending(session)
    sealed = _event(session, incident_sealing.SEAL_ACTION).details["rows"]
    assert [row_type for row_type, _, _ in sealed] == ["incident", "incident"]
    report = audit.verify(session)
    assert report.ok and report.pending == 0, report


def test_grant_events_name_the_person_by_a_keyed_pseudonym_only(client, auth, session):
    r = client.post("/v1/authorities", json=grant("emp-pseudo-1"), headers=auth("authorities:write", sub="mgr-sam"))
    assert r.status_code == 201, r.text
    event = _event(session, "authority.granted")
    assert "emp-pseudo-1" not in repr(event.details)
    assert event.details["person"] == audit_keys().pseudonym("emp-pseudo-1")
    assert client.delete(f"/v1/authorities/{r.json()['id']}", headers=auth("authorities:write")).status_code == 200
    assert audit.verify(session).ok
