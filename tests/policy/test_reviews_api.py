"""API tests: review status, clauses and the review history."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlmodel import select

from app.audit.models import AuditEvent
from app.db import get_session
from app.main import create_app
from app.policy.models import PolicyReview
from app.policy.pack import load_pack
from tests.policy.factories import (
    HR,
    ORIGINAL_VERSION,
    READ,
    WRITE,
    pin_today,
    record_review,
    review_body,
)

D = dt.date
PROBLEM = "application/problem+json"

POLICY_ROUTES = [
    ("GET", "/v1/policy", READ),
    ("GET", "/v1/policy/clauses", READ),
    ("POST", "/v1/policy/reviews", WRITE),
    ("GET", "/v1/policy/reviews", READ),
    ("GET", "/v1/policy/reviews/00000000-0000-4000-8000-000000000000", READ),
    ("POST", "/v1/policy/acknowledgements", READ),
    ("GET", "/v1/policy/acknowledgements", READ),
    ("GET", "/v1/policy/acknowledgements/outstanding", WRITE),
    ("GET", "/v1/policy/acknowledgements/00000000-0000-4000-8000-000000000000", READ),
]


@pytest.mark.parametrize(("method", "path", "scope"), POLICY_ROUTES, ids=[f"{m} {p}" for m, p, _ in POLICY_ROUTES])
def test_every_policy_route_needs_a_token_and_its_scope(client, auth, method, path, scope):
    r = client.request(method, path)
    assert r.status_code == 401
    assert r.headers["content-type"].startswith(PROBLEM)
    r = client.request(method, path, headers=auth("screenings:write incidents:read escalations:write"))
    assert r.status_code == 403
    assert r.json()["title"] == "Forbidden"


def test_write_alone_cannot_read_and_read_alone_cannot_record(client, auth):
    assert client.get("/v1/policy", headers=auth(WRITE)).status_code == 403
    r = client.post("/v1/policy/reviews", json=review_body(), headers=auth(READ))
    assert r.status_code == 403
    assert r.json()["required_scopes"] == ["policy:write"]
    assert client.get("/v1/policy/acknowledgements/outstanding", headers=auth(READ)).status_code == 403


# --- GET /v1/policy ------------------------------------------------------------------------------


def test_status_from_the_pack_is_overdue_today(client, auth):
    r = client.get("/v1/policy", headers=auth(READ))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["title"] == "Social Media"
    assert body["organisation"] == "Independence Project"
    assert body["version"] == ORIGINAL_VERSION
    assert body["label"] == "Reviewed Nov 2019"
    assert body["last_reviewed"] == "2019-11-01"
    assert body["reviewed_by"] is None
    assert body["review_interval_months"] == 12
    assert body["due_soon_days"] == 60
    assert body["next_review_due"] == "2020-11-01"
    assert body["status"] == "overdue"
    today = dt.datetime.now(dt.UTC).date()
    assert body["as_of"] == today.isoformat()
    assert body["days_overdue"] == (today - D(2020, 11, 1)).days
    assert body["clause_count"] == 8
    assert body["policy_pack_version"] == load_pack().policy_version
    assert body["acknowledgements"]["version"] == ORIGINAL_VERSION


@pytest.mark.parametrize(
    ("today", "status", "days_overdue", "days_until_due"),
    [
        (D(2020, 6, 1), "current", 0, 153),
        (D(2020, 9, 1), "current", 0, 61),
        (D(2020, 9, 2), "due_soon", 0, 60),
        (D(2020, 11, 1), "due_soon", 0, 0),
        (D(2020, 11, 2), "overdue", 1, 0),
    ],
)
def test_status_with_a_pinned_clock(app, client, auth, today, status, days_overdue, days_until_due):
    pin_today(app, today)
    body = client.get("/v1/policy", headers=auth(READ)).json()
    assert (body["status"], body["days_overdue"], body["days_until_due"]) == (status, days_overdue, days_until_due)
    assert body["as_of"] == today.isoformat()


def test_interval_and_window_come_from_settings(settings, engine, session, auth):
    from fastapi.testclient import TestClient

    app = create_app(
        settings.model_copy(update={"review_interval_months": 6, "review_due_soon_days": 10}), engine=engine
    )
    app.dependency_overrides[get_session] = lambda: (yield session)
    pin_today(app, D(2020, 4, 22))
    with TestClient(app) as c:
        body = c.get("/v1/policy", headers=auth(READ)).json()
    assert (body["review_interval_months"], body["due_soon_days"]) == (6, 10)
    assert (body["next_review_due"], body["status"], body["days_until_due"]) == ("2020-05-01", "due_soon", 9)


# --- GET /v1/policy/clauses ------------------------------------------------------------------------


def test_clauses_quote_the_policy(client, auth):
    r = client.get("/v1/policy/clauses", headers=auth(READ))
    assert r.status_code == 200
    body = r.json()
    assert body["count"] == len(body["items"]) == 8
    ids = [c["rule_id"] for c in body["items"]]
    assert set(ids) == {
        "SM-DEBATE",
        "SM-RELATIONSHIPS",
        "SM-REPUTATION",
        "SM-ACCESS",
        "SM-CONFIDENTIAL",
        "SM-ORG-EMAIL",
        "SM-AFFILIATION",
        "SM-COMPLAINT",
    }
    email = next(c for c in body["items"] if c["rule_id"] == "SM-ORG-EMAIL")
    assert email["text"] == "You must not use your Independence Project email address to register on such sites."
    assert email["severity"] in {"low", "medium", "high"}
    assert email["remediation"]
    assert set(email) == {"rule_id", "title", "text", "severity", "remediation"}


# --- POST /v1/policy/reviews ------------------------------------------------------------------------


def test_recording_a_review_makes_the_policy_current(app, client, auth, session):
    pin_today(app, D(2025, 3, 20))
    assert client.get("/v1/policy", headers=auth(READ)).json()["status"] == "overdue"
    r = client.post("/v1/policy/reviews", json=review_body(), headers=auth(HR, sub="hr-1"))
    assert r.status_code == 201, r.text
    review = r.json()
    assert r.headers["location"] == f"/v1/policy/reviews/{review['id']}"
    assert review["source"] == "recorded"
    assert review["version"] == "2025-03"
    assert review["previous_version"] == ORIGINAL_VERSION
    assert review["reviewed_on"] == "2025-03-14"
    assert review["reviewer"] == "hr-lead-07"
    assert review["recorded_by"] == "hr-1"

    got = client.get(r.headers["location"], headers=auth(READ))
    assert got.status_code == 200 and got.json() == review

    status = client.get("/v1/policy", headers=auth(READ)).json()
    assert status["status"] == "current"
    assert status["version"] == "2025-03"
    assert status["label"] == "Reviewed Mar 2025"
    assert status["last_reviewed"] == "2025-03-14"
    assert status["reviewed_by"] == "hr-lead-07"
    assert status["next_review_due"] == "2026-03-14"
    assert status["days_overdue"] == 0

    events = session.exec(select(AuditEvent).where(AuditEvent.action == "policy.review_recorded")).all()
    assert [e.target_id for e in events] == [review["id"]]
    assert events[0].actor == "hr-1"
    assert {k: v for k, v in events[0].details.items() if k != "rows"} == {
        "version": "2025-03",
        "previous_version": "2019-11",
        "reviewed_on": "2025-03-14",
    }
    assert events[0].details["rows"][0][:2] == ["policy_review", review["id"]]


def test_review_on_today_is_allowed(app, client, auth):
    pin_today(app, D(2025, 3, 14))
    record_review(client, auth(HR), reviewed_on="2025-03-14")


def test_review_in_the_future_is_422(app, client, auth):
    pin_today(app, D(2025, 3, 13))
    r = client.post("/v1/policy/reviews", json=review_body(reviewed_on="2025-03-14"), headers=auth(HR))
    assert r.status_code == 422
    assert r.headers["content-type"].startswith(PROBLEM)
    assert [e["field"] for e in r.json()["errors"]] == ["body.reviewed_on"]


def test_review_before_the_last_review_is_422(app, client, auth):
    pin_today(app, D(2025, 3, 20))
    r = client.post("/v1/policy/reviews", json=review_body(reviewed_on="2019-10-31"), headers=auth(HR))
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "body.reviewed_on"
    assert "2019-11-01" in r.json()["detail"]
    record_review(client, auth(HR), reviewed_on="2025-03-14")
    r = client.post(
        "/v1/policy/reviews", json=review_body(version="2025-02", reviewed_on="2025-02-01"), headers=auth(HR)
    )
    assert r.status_code == 422
    # The same day as the last review is fine (a correction on the day).
    record_review(client, auth(HR), version="2025-03b", reviewed_on="2025-03-14")


def test_review_must_carry_a_new_version_label(app, client, auth, session):
    pin_today(app, D(2025, 3, 20))
    r = client.post("/v1/policy/reviews", json=review_body(version=ORIGINAL_VERSION), headers=auth(HR))
    assert r.status_code == 409
    assert r.json()["current_version"] == ORIGINAL_VERSION
    record_review(client, auth(HR), version="2025-03")
    r = client.post("/v1/policy/reviews", json=review_body(version="2025-03"), headers=auth(HR))
    assert r.status_code == 409
    assert "current version" in r.json()["detail"]
    # An earlier version cannot be reused either.
    r = client.post("/v1/policy/reviews", json=review_body(version=ORIGINAL_VERSION), headers=auth(HR))
    assert r.status_code == 409
    assert "earlier version" in r.json()["detail"]
    assert len(session.exec(select(PolicyReview)).all()) == 1


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"reviewed_on": None}, "body.reviewed_on"),
        ({"reviewed_on": "14/03/2025"}, "body.reviewed_on"),
        ({"reviewed_on": 1741910400}, "body.reviewed_on"),
        ({"reviewed_on": "2025-03-14T00:00:00Z"}, "body.reviewed_on"),
        ({"reviewer": ""}, "body.reviewer"),
        ({"reviewer": "a\nb"}, "body.reviewer"),
        ({"reviewer": "x" * 201}, "body.reviewer"),
        ({"summary": "   "}, "body.summary"),
        ({"summary": "no\x00NUL"}, "body.summary"),
        ({"summary": "no\x1bESC"}, "body.summary"),
        ({"summary": "no\x7fDEL"}, "body.summary"),
        ({"version": ""}, "body.version"),
        ({"version": "v 2"}, "body.version"),
        ({"version": "-2025"}, "body.version"),
        ({"version": "x" * 51}, "body.version"),
        ({"extra": 1}, "body.extra"),
    ],
)
def test_review_validation_names_the_field(app, client, auth, change, field):
    pin_today(app, D(2025, 3, 20))
    body = review_body()
    body.update(change)
    if change.get("reviewed_on", "") is None:
        del body["reviewed_on"]
    r = client.post("/v1/policy/reviews", json=body, headers=auth(HR))
    assert r.status_code == 422, r.text
    assert field in [e["field"] for e in r.json()["errors"]]


def test_review_summary_may_span_lines(app, client, auth):
    pin_today(app, D(2025, 3, 20))
    review = record_review(client, auth(HR), summary="Changes:\n\t- complaint channel clarified\r\n")
    assert review["summary"] == "Changes:\n\t- complaint channel clarified"


def test_review_bad_json_is_400(client, auth):
    r = client.post(
        "/v1/policy/reviews", content=b"{not json", headers={**auth(HR), "Content-Type": "application/json"}
    )
    assert r.status_code == 400


def test_review_retry_with_idempotency_key_replays(app, client, auth, session):
    pin_today(app, D(2025, 3, 20))
    headers = {**auth(HR, sub="hr-1"), "Idempotency-Key": "review-2025-03"}
    first = client.post("/v1/policy/reviews", json=review_body(), headers=headers)
    again = client.post("/v1/policy/reviews", json=review_body(), headers=headers)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert again.headers["location"] == first.headers["location"]
    assert again.headers["idempotent-replayed"] == "true"
    assert len(session.exec(select(PolicyReview)).all()) == 1


# --- GET /v1/policy/reviews ---------------------------------------------------------------------------


def test_history_starts_with_the_packs_original_review(client, auth):
    r = client.get("/v1/policy/reviews", headers=auth(READ))
    assert r.status_code == 200
    body = r.json()
    assert body["next_cursor"] is None
    [original] = body["items"]
    assert original["source"] == "pack"
    assert original["version"] == ORIGINAL_VERSION
    assert original["reviewed_on"] == "2019-11-01"
    assert original["summary"] == "Reviewed Nov 2019"
    assert original["reviewer"] is None and original["previous_version"] is None
    got = client.get(f"/v1/policy/reviews/{original['id']}", headers=auth(READ))
    assert got.status_code == 200 and got.json() == original


def test_history_is_newest_first_and_pages_with_a_cursor(app, client, auth):
    pin_today(app, D(2026, 6, 1))
    record_review(client, auth(HR), version="2025-03", reviewed_on="2025-03-14")
    record_review(client, auth(HR), version="2026-04", reviewed_on="2026-04-02")
    full = client.get("/v1/policy/reviews", headers=auth(READ)).json()
    assert [i["version"] for i in full["items"]] == ["2026-04", "2025-03", ORIGINAL_VERSION]
    assert full["items"][0]["previous_version"] == "2025-03"

    seen, cursor = [], None
    for _ in range(5):
        params = {"limit": 1, **({"cursor": cursor} if cursor else {})}
        page = client.get("/v1/policy/reviews", params=params, headers=auth(READ)).json()
        seen += [i["version"] for i in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ["2026-04", "2025-03", ORIGINAL_VERSION]

    page = client.get("/v1/policy/reviews", params={"limit": 2}, headers=auth(READ)).json()
    assert [i["version"] for i in page["items"]] == ["2026-04", "2025-03"]
    last = client.get("/v1/policy/reviews", params={"cursor": page["next_cursor"]}, headers=auth(READ)).json()
    assert [i["version"] for i in last["items"]] == [ORIGINAL_VERSION]
    assert last["next_cursor"] is None


@pytest.mark.parametrize("params", [{"cursor": "garbage!"}, {"cursor": "eyJ0IjoxfQ"}, {"cursor": "a" * 600}])
def test_history_bad_cursor_is_400(client, auth, params):
    r = client.get("/v1/policy/reviews", params=params, headers=auth(READ))
    assert r.status_code == 400
    assert r.json()["errors"][0]["field"] == "query.cursor"


@pytest.mark.parametrize("limit", [0, 201, "x"])
def test_history_bad_limit_is_422(client, auth, limit):
    r = client.get("/v1/policy/reviews", params={"limit": limit}, headers=auth(READ))
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "query.limit"


def test_unknown_review_is_404_and_bad_id_is_422(client, auth):
    r = client.get("/v1/policy/reviews/3f6b8a9e-1c2d-4e5f-8a7b-9c0d1e2f3a4b", headers=auth(READ))
    assert r.status_code == 404
    assert r.headers["content-type"].startswith(PROBLEM)
    r = client.get("/v1/policy/reviews/not-a-uuid", headers=auth(READ))
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "path.review_id"
