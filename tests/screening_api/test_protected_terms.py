"""createProtectedTerm, listProtectedTerms, deleteProtectedTerm, and the matcher refresh."""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete as sa_delete
from sqlalchemy import update as sa_update
from sqlmodel import Session, func, select

from app.audit.models import AuditEvent
from app.db import build_engine, get_session
from app.main import create_app
from app.protected_terms import service
from app.protected_terms.models import ProtectedTerm, ProtectedTermState
from app.protected_terms.schemas import ProtectedTermCreate, TermKind
from app.screening.models import Screening
from app.screening.protected import term_digest
from tests.conftest import hold_then_wait, make_settings, migrate
from tests.screening_api.factories import CHILD, PT, W, post


def _register(client, auth, value=CHILD, kind="child_name"):
    return client.post("/v1/protected-terms", json={"kind": kind, "value": value}, headers=auth(PT))


def _screen(client, auth, text):
    r = client.post("/v1/screenings", json=post(text, store=False), headers=auth(W))
    assert r.status_code == 200, r.text
    return r.json()


def test_register_returns_id_and_kind_never_the_value(client, auth, session, settings):
    r = _register(client, auth)
    assert r.status_code == 201, r.text
    body = r.json()
    assert set(body) == {"id", "kind", "created_at"} and body["kind"] == "child_name"
    assert r.headers["location"] == f"/v1/protected-terms/{body['id']}"
    assert CHILD not in r.text
    row = session.get(ProtectedTerm, uuid.UUID(body["id"]))
    assert row.digest == term_digest(CHILD, settings.secret_key.encode())
    event = session.exec(select(AuditEvent).where(AuditEvent.target_id == body["id"])).one()
    assert event.action == "protected_term.created" and CHILD not in str(event.details)


def test_duplicate_after_normalisation_is_409(client, auth):
    first = _register(client, auth).json()
    r = _register(client, auth, value="  tobias   WRENFIELD ")
    assert r.status_code == 409
    assert r.json()["existing_id"] == first["id"]


def test_validation_and_auth(client, auth):
    assert _register(client, auth, kind="pet_name").status_code == 422
    r = client.post("/v1/protected-terms", json={"kind": "child_name", "value": "..."}, headers=auth(PT))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.value"
    r = client.post("/v1/protected-terms", json={"kind": "child_name"}, headers=auth(PT))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.value"
    assert client.post("/v1/protected-terms", json={"kind": "child_name", "value": "A"}).status_code == 401
    r = client.post("/v1/protected-terms", json={"kind": "child_name", "value": "A"}, headers=auth(W))
    assert r.status_code == 403
    assert client.get("/v1/protected-terms", headers=auth(W)).status_code == 403
    assert client.delete(f"/v1/protected-terms/{uuid.uuid4()}", headers=auth(W)).status_code == 403


def test_list_is_paginated_and_shows_no_values(client, auth):
    ids = {_register(client, auth, value=f"Secret Name {i}", kind="family_name").json()["id"] for i in range(3)}
    page = client.get("/v1/protected-terms?limit=2", headers=auth(PT)).json()
    assert len(page["items"]) == 2 and page["next_cursor"]
    rest = client.get(f"/v1/protected-terms?limit=2&cursor={page['next_cursor']}", headers=auth(PT)).json()
    listed = {i["id"] for i in page["items"] + rest["items"]}
    assert ids <= listed
    assert all(set(i) == {"id", "kind", "created_at"} for i in page["items"])
    assert client.get("/v1/protected-terms?cursor=zz", headers=auth(PT)).status_code == 400


def test_delete(client, auth, session):
    term_id = _register(client, auth).json()["id"]
    assert client.delete(f"/v1/protected-terms/{term_id}", headers=auth(PT)).status_code == 204
    assert session.get(ProtectedTerm, uuid.UUID(term_id)) is None
    assert client.delete(f"/v1/protected-terms/{term_id}", headers=auth(PT)).status_code == 404
    assert client.delete("/v1/protected-terms/nope", headers=auth(PT)).status_code == 422


def test_counter_moves_with_each_change(client, auth, session):
    def version():
        session.expire_all()
        return session.get(ProtectedTermState, 1).version

    v0 = version()
    term_id = _register(client, auth).json()["id"]
    assert version() == v0 + 1
    _register(client, auth)  # 409: no change, no bump
    assert version() == v0 + 1
    client.delete(f"/v1/protected-terms/{term_id}", headers=auth(PT))
    assert version() == v0 + 2


def test_registered_name_is_blocked_then_released(client, auth):
    text = f"Had such fun with {CHILD} at the park today"
    before = _screen(client, auth, text)
    term_id = _register(client, auth).json()["id"]
    during = _screen(client, auth, text)
    assert during["verdict"] == "block"
    assert CHILD not in during["suggested_text"]
    assert "SM-CONFIDENTIAL" in {f["rule_id"] for f in during["findings"]}
    client.delete(f"/v1/protected-terms/{term_id}", headers=auth(PT))
    assert _screen(client, auth, text)["verdict"] == before["verdict"]


def test_another_worker_sees_the_change(client, auth, app, session, settings, engine):
    # A second application instance stands in for a second worker: it has its own screener.
    other = create_app(settings, engine=engine)

    def _session():
        yield session

    other.dependency_overrides[get_session] = _session
    with TestClient(other) as second:
        text = f"{CHILD} was brilliant in the play"
        _screen(second, auth, text)  # warm the second worker's matcher
        _register(client, auth)  # registered through the first worker
        assert _screen(second, auth, text)["verdict"] == "block"


def test_a_stored_screening_by_a_stale_worker_is_screened_again_and_stored_once(
    client, auth, app, session, settings, engine
):
    # The stored path checks the counter inside its INSERT; a stale worker must store nothing
    # from its old screener, then screen again with the new term and store that, once.
    other = create_app(settings, engine=engine)

    def _session():
        yield session

    other.dependency_overrides[get_session] = _session
    text = f"{CHILD} was brilliant in the play"
    with TestClient(other) as second:
        warm = second.post("/v1/screenings", json=post(text), headers=auth(W))
        assert warm.status_code == 201 and warm.json()["verdict"] != "block"
        _register(client, auth)  # registered through the first worker
        before = session.exec(select(func.count()).select_from(Screening)).one()
        r = second.post("/v1/screenings", json=post(text), headers=auth(W))
    assert r.status_code == 201, r.text
    assert r.json()["verdict"] == "block" and CHILD not in r.json()["suggested_text"]
    assert session.exec(select(func.count()).select_from(Screening)).one() == before + 1
    stored = session.get(Screening, uuid.UUID(r.json()["id"]))
    assert stored is not None and stored.verdict == "block"


def test_location_of_a_new_term_reads_it_back_without_the_value(client, auth):
    created = _register(client, auth)
    assert created.status_code == 201, created.text
    r = client.get(created.headers["location"], headers=auth(PT))
    assert r.status_code == 200, r.text
    assert r.json() == created.json()
    assert set(r.json()) == {"id", "kind", "created_at"}
    assert CHILD not in r.text


def test_get_unknown_term_is_404_problem(client, auth):
    r = client.get(f"/v1/protected-terms/{uuid.uuid4()}", headers=auth(PT))
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["status"] == 404
    assert client.get("/v1/protected-terms/not-a-uuid", headers=auth(PT)).status_code == 422


def test_get_term_needs_protected_terms_write(client, auth):
    term_id = _register(client, auth).json()["id"]
    assert client.get(f"/v1/protected-terms/{term_id}").status_code == 401
    r = client.get(f"/v1/protected-terms/{term_id}", headers=auth(f"{W} screenings:read authorities:write"))
    assert r.status_code == 403
    assert r.headers["content-type"].startswith("application/problem+json")


def test_deleted_term_is_404_on_get(client, auth):
    term_id = _register(client, auth).json()["id"]
    assert client.delete(f"/v1/protected-terms/{term_id}", headers=auth(PT)).status_code == 204
    assert client.get(f"/v1/protected-terms/{term_id}", headers=auth(PT)).status_code == 404


def _sizes_mask(session):
    session.expire_all()
    return session.get(ProtectedTermState, 1).ngram_sizes


def _empty_registry(session):
    session.exec(sa_delete(ProtectedTerm))
    session.exec(sa_update(ProtectedTermState).values(ngram_sizes=0))
    session.flush()


def test_a_term_longer_than_the_screener_reads_is_422(client, auth):
    r = _register(client, auth, value="Anna Maria Louisa Grace Smith")
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "body.value" and "at most 4" in r.json()["detail"]
    assert _register(client, auth, value="Anna Maria Louisa Smith").status_code == 201


def test_the_registry_keeps_its_terms_lengths_and_forgets_them_once_empty(client, auth, session):
    _empty_registry(session)
    one = _register(client, auth, value="Jack").json()["id"]
    assert _sizes_mask(session) == 0b1
    three = _register(client, auth, value="Mary-Jane Okafor", kind="family_name").json()["id"]  # mary jane okafor
    assert _sizes_mask(session) == 0b101
    client.delete(f"/v1/protected-terms/{one}", headers=auth(PT))
    assert _sizes_mask(session) == 0b101  # only ever more while terms remain
    client.delete(f"/v1/protected-terms/{three}", headers=auth(PT))
    assert _sizes_mask(session) == 0


@pytest.mark.parametrize("known", [True, False])
def test_a_registered_three_word_name_is_blocked_whether_lengths_are_known_or_not(client, auth, session, known):
    _empty_registry(session)
    if not known:  # as after migration 0010 on a registry with terms: lengths not known
        session.exec(sa_update(ProtectedTermState).values(ngram_sizes=None))
        session.flush()
    _register(client, auth, value="Jack")
    _register(client, auth, value="Mary Jane Okafor", kind="family_name")
    assert _sizes_mask(session) == (0b101 if known else None)
    result = _screen(client, auth, "Lovely to see m a r y jane OKAFOR in the garden")
    assert result["verdict"] == "block" and "okafor" not in result["suggested_text"].lower()


@pytest.mark.parametrize("delete_first", [True, False])
def test_a_term_registered_while_the_last_one_is_deleted_keeps_its_length(fresh_database, delete_first):
    """Deleting the last term resets the lengths; a registration racing it must not be forgotten."""
    settings = make_settings(fresh_database.url)
    migrate(settings)
    engine = build_engine(settings)
    key = settings.secret_key.encode()
    try:
        with Session(engine) as session:
            old = service.create(session=session, term_in=ProtectedTermCreate(kind=TermKind.CHILD_NAME, value="Jack"),
                                 key=key, actor="hr").id  # fmt: skip
            session.commit()

        def delete(session: Session) -> None:
            service.delete(session=session, term_id=old, actor="hr")

        def register(session: Session) -> None:
            new = ProtectedTermCreate(kind=TermKind.FAMILY_NAME, value="Mary Jane Okafor")
            service.create(session=session, term_in=new, key=key, actor="hr")

        first, second = (delete, register) if delete_first else (register, delete)
        hold_then_wait(engine, first, second)
        with Session(engine) as session:
            # Reset then extended, or (deleted while a term remained) kept as a superset: never short.
            assert service.ngram_sizes(session=session) == ({3} if delete_first else {1, 3})
            assert len(service.all_entries(session=session)) == 1
    finally:
        engine.dispose()
