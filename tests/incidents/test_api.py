"""createIncident, getIncident, listIncidents through the API (SQLite, or PostgreSQL via DATABASE_URL)."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from sqlmodel import col, select

from app.audit.models import AuditEvent
from app.audit.service import verify
from app.incidents import sealing, service
from app.incidents.schemas import IncidentCreate
from tests.incidents.factories import HR, MANAGER, incident_body, record


@pytest.fixture
def hr(auth):
    return auth(HR, sub="hr-anna")


def test_create_returns_201_location_fields_and_case(client, hr, session):
    response = client.post("/v1/incidents", json=incident_body("vol-1"), headers=hr)
    assert response.status_code == 201, response.text
    body = response.json()
    assert response.headers["location"] == f"/v1/incidents/{body['id']}"
    assert body["subject_id"] == "vol-1" and body["subject_role"] == "volunteer"
    assert body["reported_by"] == "hr-anna"
    assert body["evidence"] == "Screenshot HR-117"
    assert body["case"] == {"stage": "none", "version": 1, "status": "open"}
    actions = [e.action for e in session.exec(select(AuditEvent).order_by(col(AuditEvent.seq))).all()]
    assert actions[-1:] == ["escalation.opened"]  # the incident itself waits for the sealer
    report = verify(session)
    assert report.ok and report.pending == 1, report
    assert sealing.seal_pending(session) == 1
    sealed = session.exec(select(AuditEvent).order_by(col(AuditEvent.seq).desc())).first()
    assert sealed is not None
    assert sealed.action == sealing.SEAL_ACTION
    assert [row[:2] for row in sealed.details["rows"]] == [["incident", body["id"]]]
    assert "Screenshot" not in str(sealed.details) and "Complained" not in str(sealed.details)
    report = verify(session)
    assert report.ok and report.pending == 0, report


def test_second_incident_keeps_case_version(client, hr):
    record(client, hr, "vol-2")
    second = record(client, hr, "vol-2")
    assert second["case"] == {"stage": "none", "version": 1, "status": "open"}


def test_evidence_hidden_without_incidents_read(client, auth):
    writer = auth("incidents:write", sub="hr-bob")
    body = record(client, writer, "vol-3")
    assert body["evidence"] is None
    reader = auth("incidents:read")
    assert client.get(f"/v1/incidents/{body['id']}", headers=reader).json()["evidence"] == "Screenshot HR-117"


def test_get_incident_and_404(client, hr):
    created = record(client, hr)
    got = client.get(f"/v1/incidents/{created['id']}", headers=hr)
    assert got.status_code == 200 and got.json() == created
    missing = client.get(f"/v1/incidents/{uuid.uuid4()}", headers=hr)
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")
    assert client.get("/v1/incidents/not-a-uuid", headers=hr).status_code == 422


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"url": "ftp://example.com/x"}, "body.url"),
        ({"url": "not a url"}, "body.url"),
        ({"posted_at": "2026-01-01T10:00:00"}, "body.posted_at"),
        (
            {"posted_at": (dt.datetime.now(dt.UTC) + dt.timedelta(days=2)).isoformat()},
            "body.posted_at",
        ),
        ({"summary": ""}, "body.summary"),
        ({"platform": ""}, "body.platform"),
        ({"subject": {"id": "x", "role": "manager"}}, "body.subject.role"),
        ({"subject": {"id": "", "role": "staff"}}, "body.subject.id"),
        ({"screening_id": "nope"}, "body.screening_id"),
        ({"surprise": 1}, "body.surprise"),
    ],
)
def test_create_validation_names_the_field(client, hr, change, field):
    response = client.post("/v1/incidents", json=incident_body(**change), headers=hr)
    assert response.status_code == 422, response.text
    assert field in [e["field"] for e in response.json()["errors"]]


def test_unknown_screening_is_422_naming_screening_id(client, hr):
    response = client.post("/v1/incidents", json=incident_body(screening_id=str(uuid.uuid4())), headers=hr)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "body.screening_id"


def test_existing_screening_is_accepted(client, hr, session):
    screening_models = pytest.importorskip("app.screening.models")
    screening = screening_models.Screening(
        created_by="x",
        author_id="vol-9",
        author_role="volunteer",
        platform="facebook",
        account="personal",
        text_hmac="0" * 64,
        text_length=1,
        suggested_text="[redacted]",
        verdict="block",
        risk_score=0.9,
        rule_ids=" SM-CONFIDENTIAL ",
        findings=[],
        notes=[],
        policy_version="t",
        engine_version="t",
    )
    session.add(screening)
    session.flush()
    body = record(client, hr, "vol-9", screening_id=str(screening.id))
    assert body["screening_id"] == str(screening.id)


def test_bad_json_is_400(client, hr):
    response = client.post("/v1/incidents", content=b'{"subject": ', headers={**hr, "content-type": "application/json"})
    assert response.status_code == 400


def test_auth_401_and_403(client, auth):
    assert client.post("/v1/incidents", json=incident_body()).status_code == 401
    assert client.post("/v1/incidents", json=incident_body(), headers=auth("incidents:read")).status_code == 403
    assert client.get("/v1/incidents", headers=auth("incidents:write")).status_code == 403
    assert client.get(f"/v1/incidents/{uuid.uuid4()}", headers=auth(MANAGER)).status_code == 403
    assert client.get("/v1/incidents").status_code == 401


def test_idempotent_replay_and_key_reuse(client, hr):
    headers = {**hr, "Idempotency-Key": "inc-key-1"}
    body = incident_body("vol-idem")
    first = client.post("/v1/incidents", json=body, headers=headers)
    again = client.post("/v1/incidents", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again.headers["location"] == first.headers["location"]
    assert again.headers["idempotent-replayed"] == "true"
    listed = client.get("/v1/incidents", params={"subject_id": "vol-idem"}, headers=hr).json()
    assert len(listed["items"]) == 1
    other = client.post("/v1/incidents", json={**body, "summary": "different"}, headers=headers)
    assert other.status_code == 422


def test_list_filters_and_pagination(client, hr):
    subject = f"list-{uuid.uuid4().hex[:6]}"
    now = dt.datetime.now(dt.UTC)
    ids = []
    for days, platform in [(10, "facebook"), (5, "twitter"), (1, "facebook")]:
        posted = (now - dt.timedelta(days=days)).isoformat()
        ids.append(record(client, hr, subject, posted_at=posted, platform=platform)["id"])
    page = client.get("/v1/incidents", params={"subject_id": subject, "limit": 2}, headers=hr).json()
    assert [i["id"] for i in page["items"]] == [ids[2], ids[1]]
    rest = client.get(
        "/v1/incidents",
        params={"subject_id": subject, "limit": 2, "cursor": page["next_cursor"]},
        headers=hr,
    ).json()
    assert [i["id"] for i in rest["items"]] == [ids[0]] and rest["next_cursor"] is None
    fb = client.get("/v1/incidents", params={"subject_id": subject, "platform": "facebook"}, headers=hr).json()
    assert {i["id"] for i in fb["items"]} == {ids[0], ids[2]}
    window = client.get(
        "/v1/incidents",
        params={
            "subject_id": subject,
            "posted_from": (now - dt.timedelta(days=7)).isoformat(),
            "posted_to": (now - dt.timedelta(days=2)).isoformat(),
        },
        headers=hr,
    ).json()
    assert [i["id"] for i in window["items"]] == [ids[1]]
    created = client.get(
        "/v1/incidents",
        params={"subject_id": subject, "created_from": (now - dt.timedelta(minutes=5)).isoformat()},
        headers=hr,
    ).json()
    assert len(created["items"]) == 3
    future = client.get(
        "/v1/incidents",
        params={"subject_id": subject, "created_to": (now - dt.timedelta(days=1)).isoformat()},
        headers=hr,
    ).json()
    assert future["items"] == []


def test_list_pages_through_incidents_recorded_at_the_same_moment(session):
    # The cursor's bind parameters break ties by id: each of three simultaneous incidents comes once.
    subject = f"tie-{uuid.uuid4().hex[:6]}"
    moment = dt.datetime.now(dt.UTC).replace(microsecond=0)
    created = set()
    for _ in range(3):
        body = IncidentCreate.model_validate(incident_body(subject))
        incident, _case = service.create(session=session, incident_in=body, actor="hr-anna", now=moment)
        created.add(incident.id)
    seen, cursor = [], None
    for _ in range(4):
        items, cursor = service.list_(session=session, subject_id=subject, created_from=moment, cursor=cursor, limit=1)
        seen += [item.id for item in items]
        if cursor is None:
            break
    assert seen == sorted(created, reverse=True)


def test_list_bad_cursor_and_bad_params(client, hr):
    assert client.get("/v1/incidents", params={"cursor": "garbage!"}, headers=hr).status_code == 400
    bad_limit = client.get("/v1/incidents", params={"limit": 0}, headers=hr)
    assert bad_limit.status_code == 422 and bad_limit.json()["errors"][0]["field"] == "query.limit"
    naive = client.get("/v1/incidents", params={"posted_from": "2026-01-01T00:00:00"}, headers=hr)
    assert naive.status_code == 422 and naive.json()["errors"][0]["field"] == "query.posted_from"
