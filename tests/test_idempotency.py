"""Idempotency-Key: replay, conflict, expiry, scoping — through a small audited POST route."""

import datetime as dt

import pytest
from fastapi import APIRouter
from pydantic import BaseModel
from sqlmodel import func, select

from app.audit import service as audit
from app.audit.models import AuditEvent
from app.auth.dependencies import require
from app.db import SessionDep
from app.idempotency import IdempotencyDep, IdempotencyRecord


class Note(BaseModel):
    text: str


@pytest.fixture
def notes_client(app, client):
    router = APIRouter()

    @router.post("/v1/_notes", status_code=201, dependencies=[require("policy:write")])
    def create_note(payload: Note, session: SessionDep, idem: IdempotencyDep):
        if (replay := idem.replay(session)) is not None:
            return replay
        event = audit.record(
            session,
            actor="t",
            action="note.created",
            target_type="note",
            target_id="n",
            details={"len": len(payload.text)},
        )
        return idem.commit(
            session, status_code=201, body={"seq": event.seq}, headers={"Location": f"/v1/_notes/{event.seq}"}
        )

    app.include_router(router)
    return client


def _count(session):
    return session.exec(select(func.count()).select_from(AuditEvent)).one()


def test_same_key_same_body_replays_without_redoing_work(notes_client, auth, session):
    headers = {**auth("policy:write"), "Idempotency-Key": "k-1"}
    before = _count(session)
    first = notes_client.post("/v1/_notes", json={"text": "a"}, headers=headers)
    second = notes_client.post("/v1/_notes", json={"text": "a"}, headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert first.headers["location"] == second.headers["location"]
    assert second.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert _count(session) == before + 1


def test_key_order_and_whitespace_do_not_make_a_new_body(notes_client, auth):
    headers = {**auth("policy:write"), "Idempotency-Key": "k-ws", "content-type": "application/json"}
    a = notes_client.post("/v1/_notes", content=b'{"text": "a"}', headers=headers)
    b = notes_client.post("/v1/_notes", content=b'{ "text":"a" }', headers=headers)
    assert a.json() == b.json()


def test_same_key_different_body_is_422(notes_client, auth):
    headers = {**auth("policy:write"), "Idempotency-Key": "k-2"}
    notes_client.post("/v1/_notes", json={"text": "a"}, headers=headers)
    r = notes_client.post("/v1/_notes", json={"text": "b"}, headers=headers)
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "header.Idempotency-Key"


def test_keys_are_scoped_to_the_caller(notes_client, auth):
    a = notes_client.post(
        "/v1/_notes", json={"text": "a"}, headers={**auth("policy:write", sub="a"), "Idempotency-Key": "shared"}
    )
    b = notes_client.post(
        "/v1/_notes", json={"text": "a"}, headers={**auth("policy:write", sub="b"), "Idempotency-Key": "shared"}
    )
    assert a.json() != b.json()


def test_expired_key_does_the_work_again(notes_client, auth, session, settings, clock):
    headers = {**auth("policy:write"), "Idempotency-Key": "k-3"}
    first = notes_client.post("/v1/_notes", json={"text": "a"}, headers=headers)
    record = session.exec(select(IdempotencyRecord).where(IdempotencyRecord.key == "k-3")).one()
    assert record.expires_at == clock.now() + dt.timedelta(hours=settings.idempotency_ttl_hours)
    clock.advance(hours=settings.idempotency_ttl_hours, seconds=-1)
    headers = {**auth("policy:write"), "Idempotency-Key": "k-3"}  # tokens fresh at the new time
    assert notes_client.post("/v1/_notes", json={"text": "a"}, headers=headers).json() == first.json()
    clock.advance(1)  # the key has expired
    second = notes_client.post("/v1/_notes", json={"text": "a"}, headers=headers)
    assert second.status_code == 201
    assert second.json() != first.json()
    assert "idempotent-replayed" not in second.headers


@pytest.mark.parametrize("key", ["", "x" * 256, "has space", "ünïcode"])
def test_invalid_keys_are_422(notes_client, auth, key):
    r = notes_client.post(
        "/v1/_notes", json={"text": "a"}, headers={**auth("policy:write"), "Idempotency-Key": key.encode()}
    )
    assert r.status_code == 422


def test_no_key_means_no_record(notes_client, auth, session):
    notes_client.post("/v1/_notes", json={"text": "a"}, headers=auth("policy:write"))
    assert session.exec(select(func.count()).select_from(IdempotencyRecord)).one() == 0


def test_the_record_keeps_a_keyed_fingerprint_and_nothing_of_the_request(notes_client, auth, session, settings):
    import hashlib
    import hmac
    import json

    from app.keys import IDEMPOTENCY_REQUEST, derive_key

    secret_note = "door code is 4712"
    headers = {**auth("policy:write"), "Idempotency-Key": "k-fp"}
    assert notes_client.post("/v1/_notes", json={"text": secret_note}, headers=headers).status_code == 201
    record = session.exec(select(IdempotencyRecord).where(IdempotencyRecord.key == "k-fp")).one()
    stored = json.dumps(record.model_dump(mode="json"))
    assert "4712" not in stored and "door code" not in stored
    assert not hasattr(record, "method") and not hasattr(record, "path")
    # Not an unkeyed digest anyone could recompute from a guessed body ...
    canonical = json.dumps({"text": secret_note}, sort_keys=True, separators=(",", ":")).encode()
    unkeyed = hashlib.sha256(b"POST\0/v1/_notes\0\0" + canonical).hexdigest()
    assert record.request_fingerprint != unkeyed
    # ... but the HMAC under the derived key, which only the service can make.
    mac = hmac.new(derive_key(settings.secret_key, IDEMPOTENCY_REQUEST), digestmod="sha256")
    mac.update(b"POST\0/v1/_notes\0\0" + canonical)
    assert record.request_fingerprint == mac.hexdigest()


def test_a_record_without_fingerprint_still_replays(notes_client, auth, session):
    # Records made before keyed fingerprints (migration 0006 erased the unkeyed ones) replay as before.
    headers = {**auth("policy:write"), "Idempotency-Key": "k-old"}
    first = notes_client.post("/v1/_notes", json={"text": "a"}, headers=headers)
    record = session.exec(select(IdempotencyRecord).where(IdempotencyRecord.key == "k-old")).one()
    record.request_fingerprint = ""
    session.add(record)
    session.commit()
    again = notes_client.post("/v1/_notes", json={"text": "a"}, headers=headers)
    assert again.json() == first.json() and again.headers["idempotent-replayed"] == "true"
