"""createAuthority, listAuthorities, revokeAuthority, and grants cited by screenings."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from sqlmodel import col, select

from app.audit.models import AuditEvent
from app.authorities.models import AuthorityGrant
from tests.screening_api.factories import AW, R, W, grant, post

DEBATE = "I think the management at Independence Project are wrong about the new rota, lets discuss publicly"


def _grant(client, auth, body=None):
    return client.post("/v1/authorities", json=body or grant(), headers=auth(AW, sub="manager-1"))


def _screen(client, auth, authority_id=None, author="vol-1"):
    context = {"account": "personal"}
    if authority_id is not None:
        context["authority_id"] = authority_id
    body = post(DEBATE, author={"id": author, "role": "staff"}, context=context, store=False)
    r = client.post("/v1/screenings", json=body, headers=auth(W))
    assert r.status_code == 200, r.text
    return r.json()


def _rules(result):
    return {f["rule_id"] for f in result["findings"]}


def test_create_returns_201_with_status(client, auth, session):
    r = _grant(client, auth)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["status"] == "active" and body["granted_by"] == "manager-1" and body["revoked_at"] is None
    assert r.headers["location"] == f"/v1/authorities/{body['id']}"
    events = session.exec(select(AuditEvent).where(AuditEvent.target_id == body["id"])).all()
    assert [e.action for e in events] == ["authority.granted"]


def test_valid_from_defaults_to_now(client, auth):
    body = grant()
    del body["valid_from"]
    r = _grant(client, auth, body)
    assert r.status_code == 201 and r.json()["status"] == "active"


@pytest.mark.parametrize(
    "patch",
    [
        {"valid_until": "2020-01-01T00:00:00Z", "valid_from": "2021-01-01T00:00:00Z"},
        {"valid_until": "2030-01-01T00:00:00"},
        {"valid_from": "2020-01-01T00:00:00"},
        {"person_id": ""},
        {"topic": "x" * 201},
        {"extra": True},
    ],
)
def test_invalid_grants_are_422(client, auth, patch):
    r = _grant(client, auth, {**grant(), **patch})
    assert r.status_code == 422, r.text
    assert r.json()["errors"]


def test_scopes(client, auth):
    assert client.post("/v1/authorities", json=grant()).status_code == 401
    assert client.post("/v1/authorities", json=grant(), headers=auth(W)).status_code == 403
    assert client.get("/v1/authorities", headers=auth(W)).status_code == 403
    assert client.get("/v1/authorities", headers=auth(R)).status_code == 200
    assert client.delete(f"/v1/authorities/{uuid.uuid4()}", headers=auth(R)).status_code == 403


def test_list_filters_and_paginates(client, auth):
    live = _grant(client, auth, grant("p-list")).json()["id"]
    old = _grant(client, auth, grant("p-list", start=dt.timedelta(days=-9), end=dt.timedelta(days=-2))).json()["id"]
    soon = _grant(client, auth, grant("p-list", start=dt.timedelta(days=2))).json()["id"]

    def ids(query):
        r = client.get(f"/v1/authorities?person_id=p-list&{query}", headers=auth(AW))
        assert r.status_code == 200, r.text
        return [i["id"] for i in r.json()["items"]]

    assert set(ids("")) == {live, old, soon}
    assert ids("status=active") == [live]
    assert ids("status=expired") == [old]
    assert ids("status=pending") == [soon]
    page = client.get("/v1/authorities?person_id=p-list&limit=2", headers=auth(AW)).json()
    assert len(page["items"]) == 2 and page["next_cursor"]
    assert client.get("/v1/authorities?cursor=%%%", headers=auth(AW)).status_code == 400
    assert client.get("/v1/authorities?status=sideways", headers=auth(AW)).status_code == 422


def test_revoke_keeps_the_row(client, auth, session):
    gid = _grant(client, auth).json()["id"]
    r = client.delete(f"/v1/authorities/{gid}", headers=auth(AW, sub="manager-2"))
    assert r.status_code == 200
    assert r.json()["status"] == "revoked" and r.json()["revoked_by"] == "manager-2"
    assert session.get(AuthorityGrant, uuid.UUID(gid)).revoked_at is not None
    again = client.delete(f"/v1/authorities/{gid}", headers=auth(AW))
    assert again.status_code == 200 and again.json()["revoked_at"] == r.json()["revoked_at"]
    assert client.delete(f"/v1/authorities/{uuid.uuid4()}", headers=auth(AW)).status_code == 404
    actions = [
        e.action
        for e in session.exec(select(AuditEvent).where(AuditEvent.target_id == gid).order_by(col(AuditEvent.seq)))
    ]
    assert actions == ["authority.granted", "authority.revoked"]


def test_live_grant_suppresses_debate(client, auth):
    assert "SM-DEBATE" in _rules(_screen(client, auth))
    gid = _grant(client, auth).json()["id"]
    result = _screen(client, auth, gid)
    assert "SM-DEBATE" not in _rules(result)
    assert f"authority {gid} applied" in result["notes"]


@pytest.mark.parametrize(
    ("setup", "reason"),
    [
        ("expired", "expired"),
        ("pending", "not yet valid"),
        ("revoked", "revoked"),
        ("unknown", "unknown"),
        ("someone_else", "granted to another person"),
    ],
)
def test_unusable_grants_are_ignored_with_a_note(client, auth, setup, reason):
    if setup == "expired":
        gid = _grant(client, auth, grant(start=dt.timedelta(days=-5), end=dt.timedelta(days=-1))).json()["id"]
    elif setup == "pending":
        gid = _grant(client, auth, grant(start=dt.timedelta(days=1))).json()["id"]
    elif setup == "revoked":
        gid = _grant(client, auth).json()["id"]
        client.delete(f"/v1/authorities/{gid}", headers=auth(AW))
    elif setup == "unknown":
        gid = str(uuid.uuid4())
    else:
        gid = _grant(client, auth, grant("someone-else")).json()["id"]
    result = _screen(client, auth, gid)
    assert "SM-DEBATE" in _rules(result)
    assert f"authority {gid} ignored: {reason}" in result["notes"]


def test_batch_checks_each_grant(client, auth):
    gid = _grant(client, auth).json()["id"]
    items = [
        post(DEBATE, author={"id": "vol-1", "role": "staff"}, context={"authority_id": gid}),
        post(DEBATE, author={"id": "vol-2", "role": "staff"}, context={"authority_id": gid}),
    ]
    r = client.post("/v1/screenings/batch", json={"items": items}, headers=auth(W))
    assert r.status_code == 201, r.text
    first, second = r.json()["items"]
    assert "SM-DEBATE" not in _rules(first) and "SM-DEBATE" in _rules(second)
    assert second["authority_id"] == gid


def test_location_of_a_new_grant_reads_it_back(client, auth):
    created = _grant(client, auth)
    assert created.status_code == 201, created.text
    for scopes in (AW, R):  # same scopes as listAuthorities: managers and screening reviewers
        r = client.get(created.headers["location"], headers=auth(scopes))
        assert r.status_code == 200, r.text
        assert r.json() == created.json()


def test_get_shows_a_revoked_grant_with_its_status(client, auth):
    gid = _grant(client, auth).json()["id"]
    client.delete(f"/v1/authorities/{gid}", headers=auth(AW, sub="manager-2"))
    body = client.get(f"/v1/authorities/{gid}", headers=auth(R)).json()
    assert body["status"] == "revoked" and body["revoked_by"] == "manager-2"


def test_get_unknown_grant_is_404_problem(client, auth):
    r = client.get(f"/v1/authorities/{uuid.uuid4()}", headers=auth(AW))
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["status"] == 404
    assert client.get("/v1/authorities/not-a-uuid", headers=auth(AW)).status_code == 422


def test_get_grant_scopes(client, auth):
    gid = _grant(client, auth).json()["id"]
    assert client.get(f"/v1/authorities/{gid}").status_code == 401
    r = client.get(f"/v1/authorities/{gid}", headers=auth(f"{W} protected-terms:write"))
    assert r.status_code == 403
    assert r.headers["content-type"].startswith("application/problem+json")


def test_documented_example_is_accepted(client, auth):
    """The createAuthority example must stay valid as time passes (a past `valid_until` is a 422)."""
    example = client.get("/openapi.json").json()["components"]["schemas"]["AuthorityCreate"]["examples"][0]
    r = client.post("/v1/authorities", json=example, headers=auth(AW))
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "active"
