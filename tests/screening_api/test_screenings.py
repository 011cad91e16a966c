"""createScreening, getScreening, listScreenings: success, validation, auth, not-found, privacy."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid

import pytest
from sqlmodel import select

from app.audit.models import AuditEvent
from app.screening import sealing
from app.screening.models import Screening
from tests.screening_api.factories import PHONE, R, W, iso, now, post


def _create(client, auth, body=None, *, sub="vol-1", scopes=W):
    # json.dumps escapes non-ASCII, so even a lone surrogate reaches the server as valid JSON.
    headers = {**auth(scopes, sub=sub), "Content-Type": "application/json"}
    return client.post("/v1/screenings", content=json.dumps(body or post()), headers=headers)


def test_create_stores_and_answers_201(client, auth, session):
    text = f"Ring me on {PHONE} about the bake sale"
    r = _create(client, auth, post(text))
    assert r.status_code == 201, r.text
    data = r.json()
    assert r.headers["location"] == f"/v1/screenings/{data['id']}"
    for key in (
        "verdict",
        "risk_score",
        "findings",
        "suggested_text",
        "policy_version",
        "engine_version",
        "notes",
        "created_at",
    ):
        assert key in data
    assert data["verdict"] in {"allow", "review", "block"}
    assert PHONE not in data["suggested_text"]
    # A keyed digest: not the SHA-256 anyone could recompute from a guess.
    assert len(data["text_hmac"]) == 64 and data["text_hmac"] != hashlib.sha256(text.encode()).hexdigest()
    assert all("explanation" not in f for f in data["findings"])
    row = session.get(Screening, uuid.UUID(data["id"]))
    assert row is not None and row.text_hmac == data["text_hmac"] and row.author_id == "vol-1"
    # Stored unsealed: the request itself never touches the audit chain.
    assert row.audit_seq is None and row.id in sealing.pending_ids(session)
    assert sealing.seal_pending(session) >= 1
    session.refresh(row)
    seal = session.get(AuditEvent, row.audit_seq)
    assert seal is not None and seal.action == "screenings.sealed"
    assert set(seal.details) == {"count", "digest", "first_id", "last_id"}
    assert text not in json.dumps(seal.details) and PHONE not in json.dumps(seal.details)


def test_findings_have_the_documented_shape_and_explain(client, auth):
    text = f"The keypad code at the centre is 4821 and my number is {PHONE}"
    r = _create(client, auth, post(text, explain=True))
    assert r.status_code == 201, r.text
    findings = r.json()["findings"]
    assert findings, "a door code at the centre must produce findings"
    for f in findings:
        assert set(f) == {
            "rule_id",
            "clause",
            "severity",
            "confidence",
            "spans",
            "evidence",
            "categories",
            "reason",
            "remediation",
            "explanation",
        }
        assert "4821" not in f["evidence"] and PHONE not in f["evidence"]
        assert f["explanation"]["detector"]
        for span in f["spans"]:
            assert 0 <= span["start"] <= span["end"] <= len(text)
    rid = r.json()["id"]
    plain = client.get(f"/v1/screenings/{rid}", headers=auth(R)).json()
    assert all("explanation" not in f for f in plain["findings"])
    explained = client.get(f"/v1/screenings/{rid}?explain=true", headers=auth(R)).json()
    assert explained["findings"] == findings


def test_store_false_keeps_nothing(client, auth, session):
    before = len(session.exec(select(Screening)).all())
    r = _create(client, auth, post(store=False))
    assert r.status_code == 200, r.text
    assert r.json()["id"] is None
    assert "location" not in r.headers
    assert len(session.exec(select(Screening)).all()) == before


def test_corporate_account_is_out_of_scope(client, auth):
    body = post(
        "Join Independence Project for our open day!",
        author={"id": "corp", "role": "corporate"},
        context={"account": "corporate"},
    )
    r = _create(client, auth, body)
    assert r.status_code == 201
    assert r.json()["verdict"] == "allow"


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("x" * 10_001, "string_too_long"),
        ("pass\x00word", "control_character"),
        ("bell\x07", "control_character"),
        ("lone \ud800 surrogate", "string_unicode"),
        ("   ", "string_too_short"),
    ],
)
def test_bad_text_is_422_naming_body_text(client, auth, text, kind):
    r = _create(client, auth, post(text))
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    err = r.json()["errors"][0]
    assert err["field"] == "body.text" and err["type"] == kind
    if kind == "string_too_long":
        assert r.json()["limit"] == 10_000


def test_text_at_the_limit_and_tabs_newlines_are_fine(client, auth):
    assert _create(client, auth, post("a\tb\r\nc " + "y" * 9_990)).status_code == 201


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"author": {"id": "a", "role": "volunteer"}, "platform": "x"}, "body.text"),
        (post(author={"id": "a", "role": "boss"}), "body.author.role"),
        (post(author={"id": "", "role": "staff"}), "body.author.id"),
        (post(platform=""), "body.platform"),
        (post(context={"account": "shared"}), "body.context.account"),
        (post(context={"account": "personal", "authority_id": "nope"}), "body.context.authority_id"),
        (post(context={"registration_email": "not-an-email"}), "body.context.registration_email"),
        (post(surprise=1), "body.surprise"),
        (post(store="maybe"), "body.store"),
    ],
)
def test_invalid_body_is_422_naming_the_field(client, auth, body, field):
    r = _create(client, auth, body)
    assert r.status_code == 422, r.text
    assert field in {e["field"] for e in r.json()["errors"]}


def test_unparseable_json_and_invalid_utf8_are_400(client, auth):
    headers = {**auth(W), "Content-Type": "application/json"}
    assert client.post("/v1/screenings", content=b'{"text": ', headers=headers).status_code == 400
    r = client.post("/v1/screenings", content=b'{"text": "\xff\xfe"}', headers=headers)
    assert r.status_code in (400, 422)


def test_oversized_body_is_413(client, auth):
    r = client.post("/v1/screenings", content=b"x" * 1_100_000, headers={**auth(W), "Content-Type": "application/json"})
    assert r.status_code == 413


def test_auth_is_required(client, auth):
    assert client.post("/v1/screenings", json=post()).status_code == 401
    assert _create(client, auth, scopes=R).status_code == 403
    assert client.get("/v1/screenings").status_code == 401
    assert client.get("/v1/screenings", headers=auth("incidents:write")).status_code == 403
    assert client.get(f"/v1/screenings/{uuid.uuid4()}", headers=auth("policy:read")).status_code == 403


def test_get_unknown_is_404_and_bad_id_is_422(client, auth):
    r = client.get(f"/v1/screenings/{uuid.uuid4()}", headers=auth(R))
    assert r.status_code == 404 and r.json()["status"] == 404
    assert client.get("/v1/screenings/not-a-uuid", headers=auth(R)).status_code == 422


def test_write_only_token_sees_only_its_own(client, auth):
    mine = _create(client, auth, post(author={"id": "alice", "role": "staff"}), sub="alice").json()["id"]
    theirs = _create(client, auth, post(author={"id": "bob", "role": "staff"}), sub="alice").json()["id"]
    alice = auth(W, sub="alice")
    assert client.get(f"/v1/screenings/{mine}", headers=alice).status_code == 200
    assert client.get(f"/v1/screenings/{theirs}", headers=alice).status_code == 404
    assert client.get(f"/v1/screenings/{theirs}", headers=auth(R, sub="hr")).status_code == 200
    ids = {i["id"] for i in client.get("/v1/screenings?limit=200", headers=alice).json()["items"]}
    assert mine in ids and theirs not in ids
    assert client.get("/v1/screenings?author_id=bob", headers=alice).json()["items"] == []


def test_list_filters(client, auth):
    clean = _create(
        client, auth, post("What a lovely day for a picnic", platform="x", author={"id": "f-a", "role": "staff"})
    ).json()
    risky = _create(
        client,
        auth,
        post(
            "The door code at the centre is 4821, pass it on",
            platform="instagram",
            author={"id": "f-b", "role": "staff"},
        ),
    ).json()
    hr = auth(R)

    def ids(query):
        r = client.get(f"/v1/screenings?limit=200&{query}", headers=hr)
        assert r.status_code == 200, r.text
        return {i["id"] for i in r.json()["items"]}

    assert ids("author_id=f-a") == {clean["id"]}
    assert ids("platform=instagram") >= {risky["id"]} and clean["id"] not in ids("platform=instagram")
    assert clean["id"] in ids(f"verdict={clean['verdict']}")
    other = {"allow", "review", "block"} - {clean["verdict"]}
    assert all(clean["id"] not in ids(f"verdict={v}") for v in other)
    for rule in {f["rule_id"] for f in risky["findings"]}:
        assert ids(f"rule_id={rule}&author_id=f-b") == {risky["id"]}
        assert ids(f"rule_id={rule}&author_id=f-a") == set()
    past = now() - dt.timedelta(hours=1)
    future = now() + dt.timedelta(hours=1)
    q = {"created_from": iso(past), "created_to": iso(future)}
    assert clean["id"] in ids("&".join(f"{k}={v.replace('+', '%2B')}" for k, v in q.items()))
    assert ids(f"created_from={iso(future).replace('+', '%2B')}") == set()


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("verdict=maybe", 422),
        ("rule_id=sm-debate", 422),
        ("created_from=2026-01-01T00:00:00", 422),
        ("limit=0", 422),
        ("limit=201", 422),
        ("cursor=not-a-cursor", 400),
    ],
)
def test_list_rejects_bad_queries(client, auth, query, status):
    r = client.get(f"/v1/screenings?{query}", headers=auth(R))
    assert r.status_code == status, r.text


def test_list_paginates_with_cursor(client, auth):
    created = [
        _create(client, auth, post(f"Post number {i} about gardening", author={"id": "pager", "role": "staff"})).json()[
            "id"
        ]
        for i in range(5)
    ]
    seen, cursor = [], None
    while True:
        url = "/v1/screenings?author_id=pager&limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = client.get(url, headers=auth(R)).json()
        seen += [i["id"] for i in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(created) and len(seen) == 5
