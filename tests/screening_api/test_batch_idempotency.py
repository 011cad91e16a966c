"""createScreeningBatch and Idempotency-Key on the screening POSTs."""

from __future__ import annotations

import uuid

from sqlmodel import func, select

from app.audit.models import AuditEvent
from app.screening import sealing
from app.screening.models import Screening
from tests.screening_api.factories import PHONE, R, W, post


def _count(session) -> int:
    return session.exec(select(func.count()).select_from(Screening)).one()


def _item(text):
    body = post(text)
    return body


def test_batch_answers_in_order_and_stores_all(client, auth, session):
    texts = [f"Post {i}: call {PHONE}" if i % 2 else f"Post {i}: nice weather" for i in range(5)]
    before = _count(session)
    r = client.post("/v1/screenings/batch", json={"items": [_item(t) for t in texts]}, headers=auth(W))
    assert r.status_code == 201, r.text
    items = r.json()["items"]
    assert r.json()["count"] == 5 and len(items) == 5
    assert all(i["id"] for i in items)
    assert [PHONE in i["suggested_text"] for i in items] == [False] * 5
    assert "Post 0" in items[0]["suggested_text"] and "Post 4" in items[4]["suggested_text"]
    assert _count(session) == before + 5
    stored = session.get(Screening, uuid.UUID(items[3]["id"]))
    assert stored is not None
    sealing.seal_pending(session)
    rows = [session.get(Screening, uuid.UUID(i["id"])) for i in items]
    for row in rows:
        session.refresh(row)
    seqs = {row.audit_seq for row in rows}
    assert len(seqs) == 1 and None not in seqs, "one seal covers the whole batch"
    seal = session.get(AuditEvent, seqs.pop())
    assert seal.action == "screenings.sealed" and seal.details["count"] >= 5


def test_batch_store_false_is_200_and_keeps_nothing(client, auth, session):
    before = _count(session)
    r = client.post("/v1/screenings/batch", json={"items": [_item("hello")], "store": False}, headers=auth(W))
    assert r.status_code == 200
    assert r.json()["items"][0]["id"] is None
    assert _count(session) == before


def test_batch_over_the_limit_is_422_naming_it(client, auth):
    r = client.post("/v1/screenings/batch", json={"items": [_item("hi")] * 101}, headers=auth(W))
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "body.items" and r.json()["limit"] == 100


def test_batch_validation(client, auth):
    assert client.post("/v1/screenings/batch", json={"items": []}, headers=auth(W)).status_code == 422
    r = client.post("/v1/screenings/batch", json={"items": [_item("ok"), _item("bad\x00")]}, headers=auth(W))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.items.1.text"
    r = client.post("/v1/screenings/batch", json={"items": [{**_item("ok"), "store": True}]}, headers=auth(W))
    assert r.status_code == 422
    assert client.post("/v1/screenings/batch", json={"items": [_item("x")]}).status_code == 401
    assert client.post("/v1/screenings/batch", json={"items": [_item("x")]}, headers=auth(R)).status_code == 403


def test_same_key_same_body_replays_without_redoing_work(client, auth, session):
    headers = {**auth(W), "Idempotency-Key": "k-" + uuid.uuid4().hex}
    before = _count(session)
    first = client.post("/v1/screenings", json=post("Idempotent post"), headers=headers)
    second = client.post("/v1/screenings", json=post("Idempotent post"), headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert second.headers["location"] == first.headers["location"]
    assert second.headers.get("idempotent-replayed") == "true"
    assert _count(session) == before + 1


def test_same_key_different_body_is_422(client, auth):
    headers = {**auth(W), "Idempotency-Key": "k-" + uuid.uuid4().hex}
    assert client.post("/v1/screenings", json=post("one"), headers=headers).status_code == 201
    r = client.post("/v1/screenings", json=post("two"), headers=headers)
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "header.Idempotency-Key"


def test_expired_key_does_the_work_again(client, auth, settings, clock):
    key = "k-" + uuid.uuid4().hex
    headers = {**auth(W), "Idempotency-Key": key}
    first = client.post("/v1/screenings", json=post("expiring"), headers=headers).json()
    clock.advance(hours=settings.idempotency_ttl_hours, seconds=-1)
    headers = {**auth(W), "Idempotency-Key": key}  # tokens fresh at the new time
    assert client.post("/v1/screenings", json=post("expiring"), headers=headers).json()["id"] == first["id"]
    clock.advance(1)  # the key has expired
    again = client.post("/v1/screenings", json=post("expiring"), headers=headers)
    assert again.status_code == 201 and again.json()["id"] != first["id"]


def test_store_false_with_key_replays_200(client, auth, session):
    headers = {**auth(W), "Idempotency-Key": "k-" + uuid.uuid4().hex}
    a = client.post("/v1/screenings", json=post("dry run", store=False), headers=headers)
    b = client.post("/v1/screenings", json=post("dry run", store=False), headers=headers)
    assert a.status_code == b.status_code == 200 and a.json() == b.json()


def test_batch_replay(client, auth, session):
    headers = {**auth(W), "Idempotency-Key": "k-" + uuid.uuid4().hex}
    body = {"items": [_item("a"), _item("b")]}
    before = _count(session)
    a = client.post("/v1/screenings/batch", json=body, headers=headers)
    b = client.post("/v1/screenings/batch", json=body, headers=headers)
    assert a.status_code == b.status_code == 201 and a.json() == b.json()
    assert _count(session) == before + 2


def test_bad_idempotency_key_is_422(client, auth):
    r = client.post("/v1/screenings", json=post(), headers={**auth(W), "Idempotency-Key": "x" * 300})
    assert r.status_code == 422
