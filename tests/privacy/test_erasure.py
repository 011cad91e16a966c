"""`POST /v1/erasures` (eraseSubject) and `GET /v1/subjects/{id}/export` (exportSubject)."""

from __future__ import annotations

import pytest
from sqlmodel import select

from app.audit import service as audit
from app.audit.keys import current as audit_keys
from app.audit.models import AuditEvent
from app.screening import sealing
from tests.privacy.factories import ADMIN, MANAGER, new_subject, populate, rows_naming

ERASURES = "/v1/erasures"


def _export(client, auth, subject_id):
    return client.get(f"/v1/subjects/{subject_id}/export", headers=auth(ADMIN, sub="dpo-1"))


def _erase(client, auth, subject_id):
    return client.post(ERASURES, json={"subject_id": subject_id}, headers=auth(ADMIN, sub="dpo-1"))


def test_erasure_leaves_no_row_naming_the_subject_and_the_chain_verifies(client, auth, session):
    held = populate(client, auth, new_subject())
    other = populate(client, auth, new_subject(), screenings=1, incidents=1)
    sealing.seal_pending(session)  # screenings of both people share a seal: erasure must reseal it
    assert rows_naming(session, held.subject_id)  # the scan does find them beforehand

    r = _erase(client, auth, held.subject_id)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["subject_id"] == held.subject_id
    assert body["erased"] == {
        "screenings": 2, "incidents": 2, "escalation_cases": 1, "escalation_events": 1,
        "authority_grants": 1, "acknowledgements": 1, "idempotency_records": 1,
    }  # fmt: skip
    assert "Location" not in r.headers

    assert rows_naming(session, held.subject_id) == []
    assert rows_naming(session, other.subject_id)  # the other person's records stay
    report = audit.verify(session)
    assert report.ok, report.reason
    assert report.content is not None and report.content.checked > 0
    seals = sealing.verify_seals(session)
    assert seals.ok and seals.sealed == 1, seals.reason
    tombstone = session.exec(select(AuditEvent).where(AuditEvent.seq == body["audit_seq"])).one()
    assert tombstone.action == "subject.erased"
    assert tombstone.target_id == audit_keys().pseudonym(held.subject_id)
    removed = {(t, i) for t, i, digest in tombstone.details["rows"] if digest is None}
    assert {("incident", i) for i in held.incident_ids} <= removed
    assert _export(client, auth, held.subject_id).status_code == 404
    assert _export(client, auth, other.subject_id).status_code == 200


def test_erasure_is_idempotent_and_an_unknown_subject_has_zero_counts(client, auth, session):
    held = populate(client, auth, new_subject(), screenings=1, incidents=1)
    assert _erase(client, auth, held.subject_id).status_code == 200
    again = _erase(client, auth, held.subject_id)
    assert again.status_code == 200 and set(again.json()["erased"].values()) == {0}
    unknown = _erase(client, auth, "nobody-we-know")
    assert unknown.status_code == 200 and set(unknown.json()["erased"].values()) == {0}
    assert audit.verify(session).ok


def _advance(client, auth, subject_id, version, path="advance", body=None):
    return client.post(
        f"/v1/escalations/{subject_id}/{path}",
        json=body or {"reason": "repeated"},
        headers={**auth(MANAGER, sub="mgr-sam"), "If-Match": f'"{version}"'},
    )


def test_a_case_at_an_open_legal_letter_step_is_not_erased(client, auth, session):
    held = populate(client, auth, new_subject(), screenings=0, incidents=1)
    assert _advance(client, auth, held.subject_id, 1).status_code == 200
    populate(client, auth, held.subject_id, screenings=0, incidents=1, grant_and_ack=False)
    r = _advance(client, auth, held.subject_id, 2)
    assert r.status_code == 200 and r.json()["stage"] == "legal_letter", r.text
    blocked = _erase(client, auth, held.subject_id)
    assert blocked.status_code == 409
    assert blocked.headers["content-type"].startswith("application/problem+json")
    assert blocked.json()["code"] == "erasure_blocked_open_case"
    assert rows_naming(session, held.subject_id)  # nothing was erased
    # Once the case is resolved the erasure goes through.
    assert _advance(client, auth, held.subject_id, 3, "resolve", {"reason": "settled"}).status_code == 200
    assert _erase(client, auth, held.subject_id).status_code == 200
    assert rows_naming(session, held.subject_id) == []


def test_a_case_under_appeal_is_not_erased(client, auth):
    held = populate(client, auth, new_subject(), screenings=0, incidents=1)
    assert _advance(client, auth, held.subject_id, 1).status_code == 200
    lodged = _advance(client, auth, held.subject_id, 2, "appeals", {"reason": "it was not me"})
    assert lodged.status_code == 200, lodged.text
    blocked = _erase(client, auth, held.subject_id)
    assert blocked.status_code == 409 and blocked.json()["code"] == "erasure_blocked_appeal_pending"


def test_export_returns_everything_held_about_the_subject(client, auth):
    held = populate(client, auth, new_subject())
    r = _export(client, auth, held.subject_id)
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["subject_id"] == held.subject_id
    assert [s["id"] for s in doc["screenings"]] == held.screening_ids
    assert [i["id"] for i in doc["incidents"]] == held.incident_ids
    assert all(i["evidence"] == "Screenshot HR-117" for i in doc["incidents"])
    assert doc["escalation"]["subject_id"] == held.subject_id and doc["escalation"]["stage"] == "none"
    assert [g["id"] for g in doc["authorities"]] == held.grant_ids
    assert [a["id"] for a in doc["acknowledgements"]] == held.acknowledgement_ids
    missing = _export(client, auth, "nobody-we-know")
    assert missing.status_code == 404 and missing.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [("post", ERASURES, {"subject_id": "vol-1"}), ("get", "/v1/subjects/vol-1/export", None)],
)
def test_privacy_routes_need_an_admin_token(client, auth, method, path, body):
    kwargs = {"json": body} if body is not None else {}
    assert getattr(client, method)(path, **kwargs).status_code == 401
    everything_but_admin = "screenings:read incidents:read incidents:write escalations:write policy:write"
    forbidden = getattr(client, method)(path, headers=auth(everything_but_admin), **kwargs)
    assert forbidden.status_code == 403


@pytest.mark.parametrize(
    ("body", "field"),
    [({}, "body.subject_id"), ({"subject_id": ""}, "body.subject_id"), ({"subject_id": "a\nb"}, "body.subject_id"),
     ({"subject_id": "x", "extra": 1}, "body.extra")],
)  # fmt: skip
def test_bad_erasure_bodies_are_422_naming_the_field(client, auth, body, field):
    r = client.post(ERASURES, json=body, headers=auth(ADMIN))
    assert r.status_code == 422
    assert field in [e["field"] for e in r.json()["errors"]]
