"""Business times follow the app's injected clock, not the wall clock of the machine.

The fake clock is set years before the real time, so a check that read the wall clock would
answer differently: a post from last week is in the fake clock's future, a grant that ended in
2020 is still running on it.
"""

from __future__ import annotations

import datetime as dt

import pytest

from tests.incidents.factories import incident_body
from tests.screening_api.factories import post

FAKE_NOW = dt.datetime(2020, 1, 15, 12, 0, tzinfo=dt.UTC)


def _z(when: dt.datetime) -> str:
    return when.isoformat().replace("+00:00", "Z")


@pytest.fixture
def at_fake_now(clock):
    clock.set(FAKE_NOW)
    return clock


@pytest.mark.parametrize(
    ("posted_at", "status"),
    [
        (FAKE_NOW - dt.timedelta(days=1), 201),
        (FAKE_NOW + dt.timedelta(minutes=4), 201),  # HR's clock a little ahead of ours
        (FAKE_NOW + dt.timedelta(hours=1), 422),
        (dt.datetime.now(dt.UTC) - dt.timedelta(days=7), 422),  # last week, but years after the app's now
    ],
)
def test_an_incident_posted_after_the_apps_now_is_refused(client, auth, at_fake_now, posted_at, status):
    r = client.post("/v1/incidents", json=incident_body(posted_at=_z(posted_at)), headers=auth("incidents:write"))
    assert r.status_code == status, r.text
    if status == 422:
        assert r.headers["content-type"].startswith("application/problem+json")
        assert [e["field"] for e in r.json()["errors"]] == ["body.posted_at"]
    else:
        assert r.json()["created_at"] == _z(FAKE_NOW)


def test_a_grant_without_valid_from_starts_at_the_apps_now(client, auth, at_fake_now):
    manager = auth("authorities:write")
    body = {"person_id": "emp-1", "topic": "Fundraising", "valid_until": "2020-02-01T00:00:00Z"}
    created = client.post("/v1/authorities", json=body, headers=manager)
    assert created.status_code == 201, created.text
    assert created.json()["valid_from"] == _z(FAKE_NOW)
    assert created.json()["status"] == "active"  # ended in 2020 by the wall clock
    listed = client.get("/v1/authorities", params={"status": "active", "person_id": "emp-1"}, headers=manager)
    assert [g["id"] for g in listed.json()["items"]] == [created.json()["id"]]
    revoked = client.delete(f"/v1/authorities/{created.json()['id']}", headers=manager).json()
    assert revoked["revoked_at"] == _z(FAKE_NOW) and revoked["status"] == "revoked"


def test_a_grant_ending_before_the_apps_now_needs_a_valid_from(client, auth, at_fake_now):
    body = {"person_id": "emp-1", "topic": "Fundraising", "valid_until": "2020-01-15T11:00:00Z"}
    r = client.post("/v1/authorities", json=body, headers=auth("authorities:write"))
    assert r.status_code == 422, r.text
    assert [e["field"] for e in r.json()["errors"]] == ["body.valid_until"]
    # Given a start, the same end is a grant that ran in the past: accepted, and expired now.
    r = client.post(
        "/v1/authorities", json={**body, "valid_from": "2020-01-01T00:00:00Z"}, headers=auth("authorities:write")
    )
    assert r.status_code == 201 and r.json()["status"] == "expired"


def test_screening_honours_a_grant_live_at_the_apps_now_and_stamps_its_time(client, auth, at_fake_now):
    manager = auth("authorities:write")
    grant = {"person_id": "vol-1", "topic": "Fundraising", "valid_from": "2020-01-01T00:00:00Z",
             "valid_until": "2020-02-01T00:00:00Z"}  # fmt: skip
    grant_id = client.post("/v1/authorities", json=grant, headers=manager).json()["id"]
    body = post("Come to our fundraising day at the centre!", context={"account": "personal", "authority_id": grant_id})
    r = client.post("/v1/screenings", json=body, headers=auth("screenings:write"))
    assert r.status_code == 201, r.text
    assert f"authority {grant_id} applied" in r.json()["notes"]
    assert r.json()["created_at"] == _z(FAKE_NOW)
    # On the fast path (no grant cited) the stored time is the app's too.
    r = client.post("/v1/screenings", json=post(), headers=auth("screenings:write"))
    stored = client.get(f"/v1/screenings/{r.json()['id']}", headers=auth("screenings:read")).json()
    assert stored["created_at"] == _z(FAKE_NOW)


def test_a_subject_export_is_dated_by_the_apps_clock(client, auth, at_fake_now):
    r = client.post(
        "/v1/incidents", json=incident_body("exp-1", posted_at=_z(FAKE_NOW)), headers=auth("incidents:write")
    )
    assert r.status_code == 201, r.text
    export = client.get("/v1/subjects/exp-1/export", headers=auth("admin"))
    assert export.status_code == 200, export.text
    assert export.json()["exported_at"] == _z(FAKE_NOW)
