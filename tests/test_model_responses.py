"""Routes that serialise their response model themselves answer exactly what FastAPI would have.

Each body is checked against FastAPI's own serialisation of the route's response model (validated
and dumped with the route's options, as `fastapi.routing.serialize_response` does), and no request
here lets FastAPI validate a sync route's return value in the thread pool.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import fastapi.routing
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts

from app.auth.scopes import Scope
from tests.incidents.factories import HR, MANAGER, record

EVERYTHING = " ".join(s.value for s in Scope)
GRANT = {"person_id": "emp-1", "topic": "Fundraising", "valid_until": "2099-12-31T17:00:00Z"}
PROBLEM_KEYS = {"type", "title", "status", "detail", "instance", "request_id"}


@pytest.fixture
def validated_in_threadpool(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Record each response FastAPI validates on behalf of a sync route (the second thread hop)."""
    seen: list[str] = []
    original = fastapi.routing.serialize_response

    async def spy(**kwargs: Any) -> Any:
        if kwargs.get("field") is not None and not kwargs.get("is_coroutine", True):
            seen.append(type(kwargs["response_content"]).__name__)
        return await original(**kwargs)

    monkeypatch.setattr(fastapi.routing, "serialize_response", spy)
    yield seen


def _route(app: FastAPI, method: str, path: str) -> APIRoute:
    for ctx in iter_route_contexts(app.routes):
        route = ctx.original_route
        if isinstance(route, APIRoute) and route.path == path and method in (route.methods or ()):
            return route
    raise AssertionError(f"no route {method} {path}")


def as_fastapi_serialises(app: FastAPI, method: str, path: str, content: bytes) -> bytes:
    """Return the bytes FastAPI writes for this body when the route returns it as a model."""
    route = _route(app, method, path)
    field = route.response_field
    assert field is not None
    value, errors = field.validate(json.loads(content), {}, loc=("response",))
    assert errors == []
    return field.serialize_json(
        value,
        include=route.response_model_include,
        exclude=route.response_model_exclude,
        by_alias=route.response_model_by_alias,
        exclude_unset=route.response_model_exclude_unset,
        exclude_defaults=route.response_model_exclude_defaults,
        exclude_none=route.response_model_exclude_none,
    )


def assert_documented(response: Any, app: FastAPI, method: str, path: str, status: int = 200) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.content == as_fastapi_serialises(app, method, path, response.content)
    assert response.headers["content-length"] == str(len(response.content))


def assert_not_found(response: Any, detail: str, path: str) -> None:
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert "etag" not in response.headers
    body = response.json()
    assert set(body) == PROBLEM_KEYS
    assert body["title"] == "Not Found" and body["status"] == 404
    assert body["detail"] == detail and body["instance"] == path


def test_healthz_leaves_out_unset_fields(client, validated_in_threadpool):
    response = client.get("/healthz")
    assert_documented(response, client.app, "GET", "/healthz")
    assert response.content == b'{"status":"ok"}'
    assert validated_in_threadpool == []


def test_incident_read_is_the_created_incident(client, auth, validated_in_threadpool):
    hr = auth(HR, sub="hr-anna")
    created = record(client, hr, evidence=None)
    response = client.get(f"/v1/incidents/{created['id']}", headers=hr)
    assert_documented(response, client.app, "GET", "/v1/incidents/{incident_id}")
    assert response.json() == created
    assert response.json()["evidence"] is None  # a None field stays in the body
    assert response.json()["posted_at"].endswith("Z")
    assert validated_in_threadpool == []


def test_unknown_incident_is_the_same_problem(client, auth, validated_in_threadpool):
    missing = uuid.UUID(int=0)
    response = client.get(f"/v1/incidents/{missing}", headers=auth(HR))
    assert_not_found(response, f"Incident {missing} does not exist.", f"/v1/incidents/{missing}")


def test_escalation_read_carries_its_etag(client, auth, validated_in_threadpool):
    hr, mgr = auth(HR, sub="hr-anna"), auth(MANAGER, sub="mgr-sam")
    subject = f"subj-{uuid.uuid4().hex[:8]}"
    record(client, hr, subject)
    response = client.get(f"/v1/escalations/{subject}", headers=mgr)
    assert_documented(response, client.app, "GET", "/v1/escalations/{subject_id}")
    assert response.headers["etag"] == '"1"'
    assert response.json()["version"] == 1 and response.json()["stage"] == "none"

    record(client, hr, subject)
    advanced = client.post(
        f"/v1/escalations/{subject}/advance", json={"reason": "repeated"}, headers={**mgr, "If-Match": '"1"'}
    )
    assert advanced.status_code == 200 and advanced.headers["etag"] == '"2"'
    again = client.get(f"/v1/escalations/{subject}", headers=mgr)
    assert again.headers["etag"] == '"2"'
    assert again.json() == advanced.json()
    assert validated_in_threadpool == []


def test_unknown_subject_is_the_same_problem_without_etag(client, auth):
    response = client.get("/v1/escalations/nobody", headers=auth(MANAGER))
    assert_not_found(
        response, "No incident has been recorded for subject 'nobody', so there is no case.", "/v1/escalations/nobody"
    )


@pytest.mark.parametrize(
    "path",
    [
        "/v1/incidents",
        "/v1/policy/clauses",
        "/v1/policy/reviews",
        "/v1/policy/acknowledgements",
        "/v1/policy/acknowledgements/outstanding",
        "/v1/clients",
        "/v1/protected-terms",
        "/v1/authorities",
    ],
)
def test_lists_are_what_fastapi_wrote(client, auth, validated_in_threadpool, path):
    headers = auth(EVERYTHING, sub="ops")
    record(client, auth(HR, sub="hr-anna"))
    client.post("/v1/policy/acknowledgements", headers=headers)
    client.post("/v1/protected-terms", json={"kind": "child_name", "value": "Amelia Hartwell"}, headers=headers)
    client.post(
        "/v1/clients", json={"name": f"c-{uuid.uuid4().hex[:6]}", "scopes": ["incidents:read"]}, headers=headers
    )
    client.post("/v1/authorities", json=GRANT, headers=headers)
    response = client.get(path, headers=headers)
    assert_documented(response, client.app, "GET", path)
    assert response.json()["items"]
    assert validated_in_threadpool == []


def test_single_reads_revoke_erase_and_export(client, auth, validated_in_threadpool):
    headers = auth(EVERYTHING, sub="ops")
    app = client.app
    reviews = client.get("/v1/policy/reviews", headers=headers).json()["items"]
    review = client.get(f"/v1/policy/reviews/{reviews[0]['id']}", headers=headers)
    assert_documented(review, app, "GET", "/v1/policy/reviews/{review_id}")
    assert review.json() == reviews[0]

    ack = client.post("/v1/policy/acknowledgements", headers=headers).json()
    got = client.get(f"/v1/policy/acknowledgements/{ack['id']}", headers=headers)
    assert_documented(got, app, "GET", "/v1/policy/acknowledgements/{acknowledgement_id}")
    assert got.json() == ack

    term = client.post("/v1/protected-terms", json={"kind": "child_name", "value": "Ada Lovelace"}, headers=headers)
    got = client.get(f"/v1/protected-terms/{term.json()['id']}", headers=headers)
    assert_documented(got, app, "GET", "/v1/protected-terms/{term_id}")
    assert got.json() == term.json()

    created = client.post("/v1/clients", json={"name": "hr-system", "scopes": ["incidents:read"]}, headers=headers)
    got = client.get(f"/v1/clients/{created.json()['client_id']}", headers=headers)
    assert_documented(got, app, "GET", "/v1/clients/{client_id}")
    assert got.json() == {k: v for k, v in created.json().items() if k != "client_secret"}

    grant = client.post("/v1/authorities", json=GRANT, headers=headers)
    got = client.get(f"/v1/authorities/{grant.json()['id']}", headers=headers)
    assert_documented(got, app, "GET", "/v1/authorities/{authority_id}")
    revoked = client.delete(f"/v1/authorities/{grant.json()['id']}", headers=headers)
    assert_documented(revoked, app, "DELETE", "/v1/authorities/{authority_id}")
    assert revoked.json()["status"] == "revoked" and revoked.json()["revoked_by"] == "ops"

    record(client, auth(HR, sub="hr-anna"), "vol-0099")
    export = client.get("/v1/subjects/vol-0099/export", headers=headers)
    assert_documented(export, app, "GET", "/v1/subjects/{subject_id}/export")
    assert [i["subject_id"] for i in export.json()["incidents"]] == ["vol-0099"]
    erased = client.post("/v1/erasures", json={"subject_id": "vol-0099"}, headers=headers)
    assert_documented(erased, app, "POST", "/v1/erasures")
    assert erased.json()["erased"]["incidents"] == 1
    assert client.get("/v1/subjects/vol-0099/export", headers=headers).status_code == 404
    assert validated_in_threadpool == []
