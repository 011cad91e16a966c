"""API tests: acknowledgements of the current version, coverage and the outstanding list."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlmodel import select

from app.audit.models import AuditEvent
from app.policy.models import PolicyAcknowledgement
from tests.incidents.factories import HR as INCIDENTS_HR
from tests.incidents.factories import record as record_incident
from tests.policy.factories import HR, ORIGINAL_VERSION, READ, pin_today, record_review
from tests.screening_api.factories import post as screening_post

ACKS = "/v1/policy/acknowledgements"


def _ack(client, headers, body=None, **kw):
    return (
        client.post(ACKS, json=body, headers=headers, **kw) if body is not None else client.post(ACKS, headers=headers)
    )


def test_self_acknowledgement_is_created_once(client, auth, session):
    first = _ack(client, auth(READ, sub="vol-1"))
    assert first.status_code == 201, first.text
    ack = first.json()
    assert first.headers["location"] == f"{ACKS}/{ack['id']}"
    assert (ack["person_id"], ack["version"], ack["recorded_by"]) == ("vol-1", ORIGINAL_VERSION, "vol-1")
    assert dt.datetime.fromisoformat(ack["acknowledged_at"]).tzinfo is not None

    again = _ack(client, auth(READ, sub="vol-1"), {})
    assert again.status_code == 200
    assert again.json() == ack
    assert again.headers["location"] == first.headers["location"]

    got = client.get(first.headers["location"], headers=auth(READ))
    assert got.status_code == 200 and got.json() == ack

    assert len(session.exec(select(PolicyAcknowledgement)).all()) == 1
    events = session.exec(select(AuditEvent).where(AuditEvent.action == "policy.acknowledged")).all()
    assert [(e.actor, e.target_id, e.details["version"], e.details["on_behalf"]) for e in events] == [
        ("vol-1", ack["id"], ORIGINAL_VERSION, False)
    ]


def test_hr_acknowledges_for_someone_else(client, auth, session):
    r = _ack(client, auth(HR, sub="hr-1"), {"person_id": "vol-9"})
    assert r.status_code == 201, r.text
    assert (r.json()["person_id"], r.json()["recorded_by"]) == ("vol-9", "hr-1")
    # The person acknowledging themselves later gets the same record back.
    again = _ack(client, auth(READ, sub="vol-9"))
    assert again.status_code == 200 and again.json()["id"] == r.json()["id"]
    event = session.exec(select(AuditEvent).where(AuditEvent.action == "policy.acknowledged")).one()
    assert {k: v for k, v in event.details.items() if k != "rows"} == {"version": ORIGINAL_VERSION, "on_behalf": True}
    assert event.details["rows"][0][:2] == ["policy_acknowledgement", r.json()["id"]]


def test_reader_cannot_acknowledge_for_someone_else(client, auth, session):
    r = _ack(client, auth(READ, sub="vol-1"), {"person_id": "vol-2"})
    assert r.status_code == 403
    assert r.json()["required_scopes"] == ["policy:write"]
    # Naming yourself is fine.
    assert _ack(client, auth(READ, sub="vol-1"), {"person_id": "vol-1"}).status_code == 201
    assert len(session.exec(select(PolicyAcknowledgement)).all()) == 1


def test_acknowledging_a_stale_version_is_409(app, client, auth):
    r = _ack(client, auth(READ, sub="vol-1"), {"version": ORIGINAL_VERSION})
    assert r.status_code == 201
    pin_today(app, dt.date(2025, 3, 20))
    record_review(client, auth(HR), version="2025-03")
    r = _ack(client, auth(READ, sub="vol-1"), {"version": ORIGINAL_VERSION})
    assert r.status_code == 409
    assert r.json()["current_version"] == "2025-03"
    r = _ack(client, auth(READ, sub="vol-1"), {"version": "2025-03"})
    assert r.status_code == 201  # a new version needs a new acknowledgement
    assert r.json()["version"] == "2025-03"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"person_id": ""}, "body.person_id"),
        ({"person_id": "two words"}, "body.person_id"),
        ({"person_id": "x" * 201}, "body.person_id"),
        ({"person_id": 42}, "body.person_id"),
        ({"version": "bad version"}, "body.version"),
        ({"nickname": "x"}, "body.nickname"),
    ],
)
def test_acknowledgement_validation_names_the_field(client, auth, body, field):
    r = _ack(client, auth(HR), body)
    assert r.status_code == 422, r.text
    assert field in [e["field"] for e in r.json()["errors"]]


def test_acknowledgement_bad_json_is_400(client, auth):
    r = client.post(ACKS, content=b"{", headers={**auth(READ), "Content-Type": "application/json"})
    assert r.status_code == 400


def test_acknowledgement_idempotency_key_replays_the_first_answer(client, auth):
    headers = {**auth(READ, sub="vol-1"), "Idempotency-Key": "ack-1"}
    first = client.post(ACKS, json={}, headers=headers)
    again = client.post(ACKS, json={}, headers=headers)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    reused = client.post(ACKS, json={"version": "2019-11"}, headers=headers)
    assert reused.status_code == 422  # same key, different body


def test_unknown_acknowledgement_is_404(client, auth):
    r = client.get(f"{ACKS}/3f6b8a9e-1c2d-4e5f-8a7b-9c0d1e2f3a4b", headers=auth(READ))
    assert r.status_code == 404
    assert client.get(f"{ACKS}/nope", headers=auth(READ)).status_code == 422


# --- listing -----------------------------------------------------------------------------------------


def test_list_defaults_to_the_current_version_and_pages(app, client, auth):
    for person in ("a-1", "a-2", "a-3"):
        assert _ack(client, auth(HR), {"person_id": person}).status_code == 201
    full = client.get(ACKS, headers=auth(READ)).json()
    assert full["version"] == ORIGINAL_VERSION
    assert [i["person_id"] for i in full["items"]] == ["a-3", "a-2", "a-1"]
    assert full["next_cursor"] is None

    page = client.get(ACKS, params={"limit": 2}, headers=auth(READ)).json()
    assert [i["person_id"] for i in page["items"]] == ["a-3", "a-2"]
    rest = client.get(ACKS, params={"limit": 2, "cursor": page["next_cursor"]}, headers=auth(READ)).json()
    assert [i["person_id"] for i in rest["items"]] == ["a-1"]
    assert rest["next_cursor"] is None

    only = client.get(ACKS, params={"person_id": "a-2"}, headers=auth(READ)).json()
    assert [i["person_id"] for i in only["items"]] == ["a-2"]

    pin_today(app, dt.date(2025, 3, 20))
    record_review(client, auth(HR), version="2025-03")
    assert client.get(ACKS, headers=auth(READ)).json() == {"version": "2025-03", "items": [], "next_cursor": None}
    old = client.get(ACKS, params={"version": ORIGINAL_VERSION}, headers=auth(READ)).json()
    assert len(old["items"]) == 3 and old["version"] == ORIGINAL_VERSION


def test_list_unknown_version_is_404_and_bad_input_is_rejected(client, auth):
    r = client.get(ACKS, params={"version": "1999-01"}, headers=auth(READ))
    assert r.status_code == 404
    r = client.get(ACKS, params={"version": "no spaces"}, headers=auth(READ))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "query.version"
    r = client.get(ACKS, params={"cursor": "%%%"}, headers=auth(READ))
    assert r.status_code == 400


# --- coverage and outstanding ---------------------------------------------------------------------


def _people_in_other_domains(client, auth):
    record_incident(client, auth(INCIDENTS_HR), subject_id="subj-1")
    record_incident(client, auth(INCIDENTS_HR), subject_id="vol-1")  # also an acknowledger: counted once
    r = client.post(
        "/v1/screenings",
        json=screening_post(author={"id": "auth-1", "role": "staff"}),
        headers=auth("screenings:write", sub="auth-1"),
    )
    assert r.status_code in (200, 201), r.text


def test_coverage_counts_people_known_to_the_service(app, client, auth):
    empty = client.get("/v1/policy", headers=auth(READ)).json()["acknowledgements"]
    assert empty == {"version": ORIGINAL_VERSION, "acknowledged": 0, "known_people": 0, "outstanding": 0, "share": None}

    _people_in_other_domains(client, auth)
    _ack(client, auth(READ, sub="vol-1"))
    _ack(client, auth(READ, sub="vol-2"))
    cov = client.get("/v1/policy", headers=auth(READ)).json()["acknowledgements"]
    # vol-1, vol-2 (acknowledgers), subj-1 (incident), auth-1 (screening author)
    assert cov == {"version": ORIGINAL_VERSION, "acknowledged": 2, "known_people": 4, "outstanding": 2, "share": 0.5}

    pin_today(app, dt.date(2025, 3, 20))
    record_review(client, auth(HR), version="2025-03")
    cov = client.get("/v1/policy", headers=auth(READ)).json()["acknowledgements"]
    assert cov == {"version": "2025-03", "acknowledged": 0, "known_people": 4, "outstanding": 4, "share": 0.0}


def test_outstanding_lists_who_has_not_acknowledged(app, client, auth):
    _people_in_other_domains(client, auth)
    _ack(client, auth(READ, sub="vol-1"))
    _ack(client, auth(READ, sub="vol-2"))
    body = client.get(f"{ACKS}/outstanding", headers=auth(HR)).json()
    assert body["version"] == ORIGINAL_VERSION
    assert body["total"] == 2
    assert body["items"] == [
        {"person_id": "auth-1", "last_acknowledged_version": None},
        {"person_id": "subj-1", "last_acknowledged_version": None},
    ]
    assert body["next_cursor"] is None

    pin_today(app, dt.date(2025, 3, 20))
    record_review(client, auth(HR), version="2025-03")
    _ack(client, auth(READ, sub="vol-2"))
    page = client.get(f"{ACKS}/outstanding", params={"limit": 2}, headers=auth(HR)).json()
    assert page["version"] == "2025-03" and page["total"] == 3
    assert [i["person_id"] for i in page["items"]] == ["auth-1", "subj-1"]
    rest = client.get(f"{ACKS}/outstanding", params={"limit": 2, "cursor": page["next_cursor"]}, headers=auth(HR))
    assert rest.json()["items"] == [{"person_id": "vol-1", "last_acknowledged_version": ORIGINAL_VERSION}]
    assert rest.json()["next_cursor"] is None and rest.json()["total"] == 3


@pytest.mark.parametrize("cursor", ["%%%", "eyJ4IjoxfQ", "bm90IGpzb24", "eyJwIjoxfQ", "a" * 600])
def test_outstanding_bad_cursor_is_400(client, auth, cursor):
    r = client.get(f"{ACKS}/outstanding", params={"cursor": cursor}, headers=auth(HR))
    assert r.status_code == 400
    assert r.json()["errors"][0]["field"] == "query.cursor"
