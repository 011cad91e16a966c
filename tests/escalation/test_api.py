"""The escalation routes: reads, ladder actions, preconditions, appeals, the letter."""

from __future__ import annotations

import uuid

import pytest
from sqlmodel import select

from app.audit.models import AuditEvent
from app.audit.service import verify
from tests.incidents.factories import HR, MANAGER, record


@pytest.fixture
def hr(auth):
    return auth(HR, sub="hr-anna")


@pytest.fixture
def mgr(auth):
    return auth(MANAGER, sub="mgr-sam")


def _subject() -> str:
    return f"subj-{uuid.uuid4().hex[:8]}"


def post(client, headers, subject, path, body, version, **extra_headers):
    return client.post(
        f"/v1/escalations/{subject}/{path}",
        json=body,
        headers={**headers, "If-Match": f'"{version}"', **extra_headers},
    )


def advance(client, mgr, subject, version, **body):
    return post(client, mgr, subject, "advance", {"reason": "repeated", **body}, version)


def test_get_case_with_etag_history_and_next_actions(client, hr, mgr):
    subject = _subject()
    incident = record(client, hr, subject, role="staff")
    response = client.get(f"/v1/escalations/{subject}", headers=mgr)
    assert response.status_code == 200
    assert response.headers["etag"] == '"1"'
    case = response.json()
    assert (case["stage"], case["version"], case["status"]) == ("none", 1, "open")
    assert case["history"][0]["kind"] == "opened" and case["history"][0]["incident_ids"] == [incident["id"]]
    assert [i["id"] for i in case["incidents_since_last_step"]] == [incident["id"]]
    advance_action = next(a for a in case["next_actions"] if a["action"] == "advance")
    assert advance_action["to_stage"] == "spoken_to"
    assert "speak directly with you and ask that you refrain from such actions" in advance_action["wording"]
    assert advance_action["path"] == f"/v1/escalations/{subject}/advance"


def test_unknown_subject_is_404(client, mgr, auth):
    response = client.get(f"/v1/escalations/{_subject()}", headers=mgr)
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
    assert advance(client, mgr, _subject(), 1).status_code == 404
    letter_reader = auth(f"{MANAGER} incidents:read")
    assert client.get(f"/v1/escalations/{_subject()}/letter", headers=letter_reader).status_code == 404


def test_climb_the_ladder(client, hr, mgr, session):
    subject = _subject()
    first = record(client, hr, subject)
    response = advance(client, mgr, subject, 1, incident_ids=[first["id"]])
    assert response.status_code == 200, response.text
    assert response.headers["etag"] == '"2"'
    case = response.json()
    assert case["stage"] == "spoken_to" and case["version"] == 2 and case["incidents_since_last_step"] == []
    step = case["history"][-1]
    assert (step["kind"], step["from_stage"], step["to_stage"], step["actor"], step["reason"]) == (
        "advanced",
        "none",
        "spoken_to",
        "mgr-sam",
        "repeated",
    )
    assert step["incident_ids"] == [first["id"]]

    blocked = advance(client, mgr, subject, 2)
    assert blocked.status_code == 409
    assert blocked.json()["code"] == "no_new_incident" and "repeated" in blocked.json()["detail"]

    old = advance(client, mgr, subject, 2, incident_ids=[first["id"]])
    record(client, hr, subject)
    old = advance(client, mgr, subject, 2, incident_ids=[first["id"]])
    assert old.status_code == 409 and old.json()["code"] == "incident_before_previous_step"

    case = advance(client, mgr, subject, 2).json()  # empty incident_ids: every new incident
    assert case["stage"] == "legal_letter" and len(case["history"][-1]["incident_ids"]) == 1
    record(client, hr, subject)
    case = advance(client, mgr, subject, 3).json()
    assert case["stage"] == "attendance_denied" and case["version"] == 4
    record(client, hr, subject)
    last = advance(client, mgr, subject, 4)
    assert last.status_code == 409 and last.json()["code"] == "last_stage"
    # Recording incidents did not bump the version; every step did, and each one was audited.
    assert client.get(f"/v1/escalations/{subject}", headers=mgr).headers["etag"] == '"4"'
    advanced = session.exec(select(AuditEvent).where(AuditEvent.action == "escalation.advanced")).all()
    assert len([e for e in advanced if e.details["version"] in (2, 3, 4)]) >= 3
    assert verify(session).ok


def test_preconditions_428_and_412(client, hr, mgr):
    subject = _subject()
    record(client, hr, subject)
    missing = client.post(f"/v1/escalations/{subject}/advance", json={"reason": "x"}, headers=mgr)
    assert missing.status_code == 428
    assert missing.headers["content-type"].startswith("application/problem+json")
    stale = advance(client, mgr, subject, 7)
    assert stale.status_code == 412 and stale.json()["current_version"] == 1
    garbage = post(client, mgr, subject, "advance", {"reason": "x"}, "abc")
    assert garbage.status_code == 412
    bare = client.post(f"/v1/escalations/{subject}/advance", json={"reason": "x"}, headers={**mgr, "If-Match": "1"})
    assert bare.status_code == 200 and bare.headers["etag"] == '"2"'
    again = advance(client, mgr, subject, 1)
    assert again.status_code == 412


def test_validation_errors_name_fields(client, hr, mgr):
    subject = _subject()
    record(client, hr, subject)
    other = record(client, hr, _subject())
    no_reason = post(client, mgr, subject, "advance", {}, 1)
    assert no_reason.status_code == 422 and no_reason.json()["errors"][0]["field"] == "body.reason"
    bad_action = advance(client, mgr, subject, 1, action="skip_to_end")
    assert bad_action.status_code == 422 and bad_action.json()["errors"][0]["field"] == "body.action"
    foreign = advance(client, mgr, subject, 1, incident_ids=[other["id"]])
    assert foreign.status_code == 422 and foreign.json()["errors"][0]["field"] == "body.incident_ids"
    unknown = advance(client, mgr, subject, 1, incident_ids=[str(uuid.uuid4())])
    assert unknown.status_code == 422
    extra = post(client, mgr, subject, "resolve", {"reason": "x", "stage": "none"}, 1)
    assert extra.status_code == 422
    bad_outcome = post(
        client,
        mgr,
        subject,
        f"appeals/{uuid.uuid4()}/decision",
        {"outcome": "maybe", "reason": "x"},
        1,
    )
    assert bad_outcome.status_code == 422 and bad_outcome.json()["errors"][0]["field"] == "body.outcome"


def test_auth_on_every_escalation_route(client, auth, hr):
    subject = _subject()
    record(client, hr, subject)
    reader = auth("escalations:read")
    writer_only = auth("escalations:write")
    assert client.get(f"/v1/escalations/{subject}").status_code == 401
    assert client.get(f"/v1/escalations/{subject}", headers=writer_only).status_code == 403
    assert client.get(f"/v1/escalations/{subject}/letter", headers=auth("incidents:read")).status_code == 403
    # The letter quotes incident summaries: reading cases alone does not reach it.
    letter_without_incidents = client.get(f"/v1/escalations/{subject}/letter", headers=reader)
    assert letter_without_incidents.status_code == 403
    assert "escalations:read and incidents:read" in letter_without_incidents.json()["detail"]
    for path, body in [
        ("advance", {"reason": "x"}),
        ("resolve", {"reason": "x"}),
        ("appeals", {"reason": "x"}),
        (f"appeals/{uuid.uuid4()}/decision", {"outcome": "upheld", "reason": "x"}),
    ]:
        url = f"/v1/escalations/{subject}/{path}"
        assert client.post(url, json=body, headers={"If-Match": '"1"'}).status_code == 401
        assert client.post(url, json=body, headers={**reader, "If-Match": '"1"'}).status_code == 403


def test_disciplinary_referral(client, hr, mgr):
    staff = _subject()
    record(client, hr, staff, role="staff")
    early = advance(client, mgr, staff, 1, action="disciplinary_referral")
    assert early.status_code == 409 and early.json()["code"] == "not_spoken_to"
    advance(client, mgr, staff, 1)
    referred = advance(client, mgr, staff, 2, action="disciplinary_referral")
    assert referred.status_code == 200, referred.text
    case = referred.json()
    assert case["stage"] == "spoken_to" and case["disciplinary_referred"] and case["version"] == 3
    assert case["history"][-1]["kind"] == "disciplinary_referral"
    twice = advance(client, mgr, staff, 3, action="disciplinary_referral")
    assert twice.status_code == 409 and twice.json()["code"] == "already_referred"

    user = _subject()
    record(client, hr, user, role="service_user")
    advance(client, mgr, user, 1)
    wrong = advance(client, mgr, user, 2, action="disciplinary_referral")
    assert wrong.status_code == 409 and wrong.json()["code"] == "wrong_role"


def test_resolve_and_reopen(client, hr, mgr):
    subject = _subject()
    record(client, hr, subject)
    advance(client, mgr, subject, 1)
    resolved = post(client, mgr, subject, "resolve", {"reason": "quiet for six months"}, 2)
    assert resolved.status_code == 200 and resolved.json()["status"] == "resolved"
    assert resolved.headers["etag"] == '"3"'
    assert resolved.json()["next_actions"] == []
    again = post(client, mgr, subject, "resolve", {"reason": "x"}, 3)
    assert again.status_code == 409 and again.json()["code"] == "case_resolved"
    incident = record(client, hr, subject)
    assert incident["case"] == {"stage": "spoken_to", "version": 4, "status": "open"}
    case = client.get(f"/v1/escalations/{subject}", headers=mgr).json()
    assert case["history"][-1]["kind"] == "reopened"
    assert advance(client, mgr, subject, 4).json()["stage"] == "legal_letter"


def test_appeal_lodged_and_overturned(client, hr, mgr, session):
    subject = _subject()
    record(client, hr, subject)
    nothing = post(client, mgr, subject, "appeals", {"reason": "x"}, 1)
    assert nothing.status_code == 409 and nothing.json()["code"] == "nothing_to_appeal"
    advance(client, mgr, subject, 1)
    record(client, hr, subject)
    advance(client, mgr, subject, 2)
    lodged = post(client, mgr, subject, "appeals", {"reason": "impersonation"}, 3)
    assert lodged.status_code == 200, lodged.text
    case = lodged.json()
    appeal_id = case["pending_appeal"]["id"]
    assert case["pending_appeal"]["against_stage"] == "legal_letter" and case["version"] == 4
    decision = next(a for a in case["next_actions"] if a["action"] == "overturn_appeal")
    assert decision["path"] == f"/v1/escalations/{subject}/appeals/{appeal_id}/decision"
    record(client, hr, subject)
    blocked = advance(client, mgr, subject, 4)
    assert blocked.status_code == 409 and blocked.json()["code"] == "appeal_pending"
    unknown = post(
        client,
        mgr,
        subject,
        f"appeals/{uuid.uuid4()}/decision",
        {"outcome": "upheld", "reason": "x"},
        4,
    )
    assert unknown.status_code == 404
    decided = post(
        client,
        mgr,
        subject,
        f"appeals/{appeal_id}/decision",
        {"outcome": "overturned", "reason": "ok"},
        4,
    )
    assert decided.status_code == 200, decided.text
    case = decided.json()
    assert case["stage"] == "spoken_to" and case["pending_appeal"] is None and case["version"] == 5
    event = case["history"][-1]
    assert (event["kind"], event["from_stage"], event["to_stage"], event["appeal_id"]) == (
        "appeal_overturned",
        "legal_letter",
        "spoken_to",
        appeal_id,
    )
    # The history is never rewritten: the overturned step is still there.
    assert [e["kind"] for e in case["history"]] == [
        "opened",
        "advanced",
        "advanced",
        "appeal_lodged",
        "appeal_overturned",
    ]
    twice = post(
        client,
        mgr,
        subject,
        f"appeals/{appeal_id}/decision",
        {"outcome": "upheld", "reason": "x"},
        5,
    )
    assert twice.status_code == 409 and twice.json()["code"] == "appeal_decided"
    # The incident recorded before the overturn does not count: a newer one is needed.
    assert advance(client, mgr, subject, 5).json()["code"] == "no_new_incident"
    kinds = {e.action for e in session.exec(select(AuditEvent)).all()}
    assert {"escalation.appeal_lodged", "escalation.appeal_overturned"} <= kinds


def test_appeal_upheld_keeps_step(client, hr, mgr):
    subject = _subject()
    record(client, hr, subject)
    advance(client, mgr, subject, 1)
    appeal_id = post(client, mgr, subject, "appeals", {"reason": "x"}, 2).json()["pending_appeal"]["id"]
    upheld = post(
        client,
        mgr,
        subject,
        f"appeals/{appeal_id}/decision",
        {"outcome": "upheld", "reason": "fair"},
        3,
    )
    assert upheld.status_code == 200
    assert upheld.json()["stage"] == "spoken_to" and upheld.json()["history"][-1]["kind"] == "appeal_upheld"


def test_idempotent_advance_replays_after_version_moved(client, hr, mgr):
    subject = _subject()
    record(client, hr, subject)
    headers = {"Idempotency-Key": f"adv-{subject}"}
    first = post(client, mgr, subject, "advance", {"reason": "r"}, 1, **headers)
    retry = post(client, mgr, subject, "advance", {"reason": "r"}, 1, **headers)
    assert first.status_code == retry.status_code == 200
    assert retry.json() == first.json() and retry.headers["etag"] == '"2"'
    assert retry.headers["idempotent-replayed"] == "true"
    assert len(client.get(f"/v1/escalations/{subject}", headers=mgr).json()["history"]) == 2


def test_letter_409_before_legal_letter_then_markdown_and_text(client, hr, mgr, auth):
    subject = _subject()
    record(client, hr, subject, role="volunteer", summary="Called the managers liars on Facebook.")
    both = auth(f"{MANAGER} incidents:read")
    early = client.get(f"/v1/escalations/{subject}/letter", headers=both)
    assert early.status_code == 409 and early.json()["code"] == "letter_not_available"
    advance(client, mgr, subject, 1)
    record(client, hr, subject, platform="twitter", summary="Repeated the claim on Twitter.")
    advance(client, mgr, subject, 2)
    # Summaries are incident data: a manager without incidents:read gets no letter at all.
    assert client.get(f"/v1/escalations/{subject}/letter", headers=mgr).status_code == 403
    markdown = client.get(f"/v1/escalations/{subject}/letter", headers=both)
    assert markdown.status_code == 200
    assert markdown.headers["content-type"].startswith("text/markdown")
    text = markdown.text
    assert text.startswith("# DRAFT") and "detailing Independence Project concerns" in text
    assert "Called the managers liars on Facebook." in text and "twitter" in text
    assert "SM-COMPLAINT" in text and "not used as the platform to raise complaints" in text
    assert "Screenshot HR-117" in text
    plain = client.get(f"/v1/escalations/{subject}/letter", headers={**both, "Accept": "text/plain"})
    assert plain.headers["content-type"].startswith("text/plain")
    assert not plain.text.startswith("#") and "Repeated the claim on Twitter." in plain.text


def test_openapi_documents_operations_and_letter_media_types(client):
    spec = client.get("/openapi.json").json()
    ids = {
        op["operationId"]
        for path, ops in spec["paths"].items()
        if path.startswith(("/v1/incidents", "/v1/escalations"))
        for op in ops.values()
    }
    assert ids == {
        "createIncident",
        "getIncident",
        "listIncidents",
        "getEscalation",
        "advanceEscalation",
        "resolveEscalation",
        "lodgeAppeal",
        "decideAppeal",
        "getEscalationLetter",
    }
    letter = spec["paths"]["/v1/escalations/{subject_id}/letter"]["get"]["responses"]["200"]["content"]
    assert {"text/markdown", "text/plain"} <= set(letter)
    advance_op = spec["paths"]["/v1/escalations/{subject_id}/advance"]["post"]
    assert {"409", "412", "428"} <= set(advance_op["responses"])
    assert "If-Match" in {p["name"] for p in advance_op["parameters"]}
