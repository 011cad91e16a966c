"""Bad input gets a clear 4xx problem+json naming the problem, never a 5xx, and changes nothing.

Generated from the live spec (tests/hardening/spec_inputs.py): every operation with a body, every
string and timestamp field of its documented example, every list and every UUID path parameter.
Each test counts the rows of every table before and after the bad request (the app and the test
share one transaction, so any write would show).

Decisions (DESIGN.md section 9, made consistent in app/errors.py):
- unparseable body (bad JSON, invalid UTF-8, nesting too deep to decode) -> 400 `malformed-json`;
- a body in a media type the operation does not accept (text/plain, a form to JSON, JSON to the
  token form, no Content-Type) -> 415 naming the accepted type;
- well-formed but invalid (wrong types, unknown fields, control characters, naive timestamps,
  limits out of range, a malformed UUID in the path, more than `max_batch_size` posts) -> 422 whose
  `errors[].field` names the field; a bad cursor -> 400; a body over `max_body_bytes` -> 413;
- a NUL anywhere in the URL (path id or query value) -> 422 from the middleware, before any route
  (PostgreSQL cannot hold NUL in text, so it would otherwise surface as a 500 from a query);
- control characters (C0 other than tab/LF/CR, and DEL) in JSON string fields -> 422 naming the field.
"""

from __future__ import annotations

import json
import uuid

import pytest
from sqlalchemy import func, select
from sqlmodel import SQLModel

import app.db_models  # noqa: F401  (registers every table on the metadata)
from tests.hardening.spec_inputs import (
    ANY_BODY,
    JSON_BODY,
    LISTS,
    PROTECTED,
    UUID_PATHS,
    Operation,
    datetime_fields,
    get_value,
    object_paths,
    resolve,
    string_fields,
    with_value,
)

ALL_SCOPES = (
    "screenings:write screenings:read incidents:write incidents:read escalations:write escalations:read "
    "policy:read policy:write authorities:write protected-terms:write admin"
)


@pytest.fixture
def call(client, auth, session):
    """Send one request with every scope; assert a problem+json of `status` and an unchanged database."""
    headers = auth(ALL_SCOPES, sub="hardening")

    def counts() -> dict[str, int]:
        session.flush()
        return {
            t.name: session.execute(select(func.count()).select_from(t)).scalar_one()
            for t in SQLModel.metadata.sorted_tables
        }

    def send(operation: Operation, status: int, *, url: str | None = None, extra_headers=None, **kwargs):
        before = counts()
        response = client.request(
            operation.method.upper(),
            url or operation.url(),
            headers={**headers, **operation.headers(), **(extra_headers or {})},
            **kwargs,
        )
        assert response.status_code == status, f"{operation.label}: {response.status_code} {response.text[:500]}"
        assert response.headers["content-type"].startswith("application/problem+json"), response.headers
        body = response.json()
        assert body["status"] == status and body["detail"] and body["type"].startswith("https://")
        assert counts() == before, f"{operation.label} changed the database on a {status}"
        return body

    return send


def _fields(problem: dict) -> set[str]:
    return {e["field"] for e in problem.get("errors") or []}


def _ids(ops):
    return [o.label for o in ops]


# --- the body as a whole -------------------------------------------------------------------------


@pytest.mark.parametrize("operation", ANY_BODY, ids=_ids(ANY_BODY))
def test_oversized_body_is_413(call, settings, operation):
    payload = b'{"text": "' + b"a" * (settings.max_body_bytes + 1) + b'"}'
    problem = call(operation, 413, content=payload, extra_headers={"content-type": operation.body_media_type})
    assert problem["limit_bytes"] == settings.max_body_bytes


@pytest.mark.parametrize("operation", JSON_BODY, ids=_ids(JSON_BODY))
def test_deeply_nested_json_is_400(call, operation):
    depth = 100_000
    payload = b'{"text": ' + b"[" * depth + b"]" * depth + b"}"
    call(operation, 400, content=payload, extra_headers={"content-type": "application/json"})


@pytest.mark.parametrize("operation", JSON_BODY, ids=_ids(JSON_BODY))
def test_moderately_nested_json_is_422_not_500(call, operation):
    # Deep enough to stress validators, shallow enough for the JSON decoder: must be a plain 422.
    nested: object = "x"
    for _ in range(500):
        nested = {"a": nested}
    body = {**operation.example, "unexpected_nesting": nested}
    problem = call(operation, 422, json=body)
    assert "body.unexpected_nesting" in _fields(problem)


@pytest.mark.parametrize("operation", JSON_BODY, ids=_ids(JSON_BODY))
def test_invalid_utf8_is_400(call, operation):
    text = json.dumps(operation.example).encode()
    payload = text[:-1] + b', "zz": "\xff\xfe\xc3("}'
    call(operation, 400, content=payload, extra_headers={"content-type": "application/json"})


@pytest.mark.parametrize("operation", JSON_BODY, ids=_ids(JSON_BODY))
def test_malformed_json_is_400(call, operation):
    problem = call(operation, 400, content=b'{"text": ', extra_headers={"content-type": "application/json"})
    assert _fields(problem) == {"body"}


@pytest.mark.parametrize("operation", JSON_BODY, ids=_ids(JSON_BODY))
@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml", None])
def test_json_body_in_another_media_type_is_415(call, operation, content_type):
    extra = {"content-type": content_type} if content_type else {}
    problem = call(operation, 415, content=json.dumps(operation.example).encode(), extra_headers=extra)
    assert problem["accepted_media_type"] == "application/json"
    assert "application/json" in problem["detail"]


def test_form_operation_given_json_is_415(client):
    r = client.post("/v1/auth/token", json={"grant_type": "client_credentials", "client_id": "a", "client_secret": "b"})
    assert r.status_code == 415, r.text
    assert r.json()["accepted_media_type"] == "application/x-www-form-urlencoded"


REQUIRED_BODY = [o for o in JSON_BODY if o.op["requestBody"].get("required")]


@pytest.mark.parametrize("operation", REQUIRED_BODY, ids=_ids(REQUIRED_BODY))
def test_missing_body_is_422(call, operation):
    problem = call(operation, 422)
    assert "body" in _fields(problem)


@pytest.mark.parametrize("operation", JSON_BODY, ids=_ids(JSON_BODY))
@pytest.mark.parametrize("payload", [[], "text", 3, None], ids=["array", "string", "number", "null"])
def test_body_of_the_wrong_json_type_is_422(call, operation, payload):
    if payload is None and not operation.op["requestBody"].get("required"):
        pytest.skip("an optional body may be null")
    problem = call(operation, 422, json=payload)
    assert any(f == "body" or f.startswith("body") for f in _fields(problem))


# --- fields --------------------------------------------------------------------------------------


def _unknown_field_cases():
    return [(o, path) for o in JSON_BODY if isinstance(o.example, dict) for path in object_paths(o)]


UNKNOWN = _unknown_field_cases()


@pytest.mark.parametrize(
    ("operation", "path"), UNKNOWN, ids=[f"{o.label} {'.'.join(map(str, p)) or 'body'}" for o, p in UNKNOWN]
)
def test_unknown_fields_are_rejected(call, operation, path):
    target = get_value(operation.example, path) if path else operation.example
    body = with_value(operation.example, (*path, "unexpected_field"), 1) if path else {**target, "unexpected_field": 1}
    problem = call(operation, 422, json=body)
    expected = ".".join(["body", *map(str, path), "unexpected_field"])
    assert expected in _fields(problem), problem


STRINGS = [(o, f) for o in JSON_BODY for f in string_fields(o)]
STRING_IDS = [f"{o.label} {f.name}" for o, f in STRINGS]


@pytest.mark.parametrize(("operation", "field"), STRINGS, ids=STRING_IDS)
def test_number_where_a_string_belongs_is_422(call, operation, field):
    problem = call(operation, 422, json=with_value(operation.example, field.path, 12345))
    assert field.name in _fields(problem), problem


def _existing_subject(client, auth) -> str | None:
    """Record an incident (from the spec's own example) so `{subject_id}` names a live case."""
    create = next((o for o in JSON_BODY if o.op.get("operationId") == "createIncident"), None)
    if create is None:
        return None
    subject = f"hardening-{uuid.uuid4().hex[:8]}"
    body = with_value(create.example, ("subject", "id"), subject)
    r = client.post(create.path, json=body, headers=auth(ALL_SCOPES, sub="hardening"))
    return subject if r.status_code == 201 else None


@pytest.mark.parametrize(("operation", "field"), STRINGS, ids=STRING_IDS)
@pytest.mark.parametrize("char", ["\x00", "\x1b", "\x7f"], ids=["NUL", "ESC", "DEL"])
def test_control_characters_are_422(call, client, auth, operation, field, char):
    # PostgreSQL cannot store NUL in text at all: accepting one is a 500 waiting for the database.
    value = get_value(operation.example, field.path)
    url = None
    if "{subject_id}" in operation.path:
        subject = _existing_subject(client, auth)
        url = operation.url(subject_id=subject) if subject else None
    body = with_value(operation.example, field.path, f"{value[:3]}{char}{value[3:]}")
    problem = call(operation, 422, url=url, json=body)
    assert field.name in _fields(problem), problem


DATETIMES = [(o, f) for o in JSON_BODY for f in datetime_fields(o)]


@pytest.mark.parametrize(("operation", "field"), DATETIMES, ids=[f"{o.label} {f.name}" for o, f in DATETIMES])
@pytest.mark.parametrize("value", ["2026-01-05T09:00:00", "2026-01-05", "yesterday", "2026-13-45T99:00:00Z"])
def test_timestamps_need_a_zone_and_a_date_time(call, operation, field, value):
    problem = call(operation, 422, json=with_value(operation.example, field.path, value))
    assert field.name in _fields(problem), problem


QUERY_DATETIMES = [
    (o, p["name"]) for o in PROTECTED for p in o.query_params if resolve(p.get("schema")).get("format") == "date-time"
]


@pytest.mark.parametrize(("operation", "name"), QUERY_DATETIMES, ids=[f"{o.label} {n}" for o, n in QUERY_DATETIMES])
def test_query_timestamps_need_a_zone(call, operation, name):
    problem = call(operation, 422, url=operation.url(), params={name: "2026-01-05T09:00:00"})
    assert f"query.{name}" in _fields(problem), problem


QUERY_STRINGS = [
    (o, p["name"])
    for o in PROTECTED
    for p in o.query_params
    if resolve(p.get("schema")).get("type") == "string"
    and not {"enum", "format", "const"} & set(resolve(p.get("schema")))
    and p["name"] != "cursor"
]


@pytest.mark.parametrize(("operation", "name"), QUERY_STRINGS, ids=[f"{o.label} {n}" for o, n in QUERY_STRINGS])
def test_nul_in_query_strings_is_422(call, operation, name):
    # A NUL reaching a PostgreSQL query is a DataError (500), even in a WHERE clause.
    problem = call(operation, 422, params={name: "ab\x00c"})
    assert f"query.{name}" in _fields(problem), problem


STRING_PATHS = [
    (o, p["name"])
    for o in PROTECTED
    for p in o.path_params
    if resolve(p.get("schema")).get("type") == "string" and not resolve(p.get("schema")).get("format")
]


@pytest.mark.parametrize(("operation", "name"), STRING_PATHS, ids=[f"{o.label} {n}" for o, n in STRING_PATHS])
def test_nul_in_a_path_id_is_a_4xx(client, auth, operation, name):
    body = operation.example if operation.body_media_type == "application/json" else None
    r = client.request(
        operation.method.upper(),
        operation.url(**{name: "ab%00c"}),
        json=body,
        headers={**auth(ALL_SCOPES), **operation.headers()},
    )
    assert r.status_code in (404, 422), f"{operation.label}: {r.status_code} {r.text[:300]}"
    assert r.headers["content-type"].startswith("application/problem+json")


# --- lists, cursors, ids -------------------------------------------------------------------------


@pytest.mark.parametrize("operation", LISTS, ids=_ids(LISTS))
@pytest.mark.parametrize("limit", ["-1", "0", "201", "1000000000000", "ten", "1.5"])
def test_list_limit_out_of_range_is_422(call, operation, limit):
    problem = call(operation, 422, params={"limit": limit})
    assert "query.limit" in _fields(problem), problem


@pytest.mark.parametrize("operation", LISTS, ids=_ids(LISTS))
@pytest.mark.parametrize(
    "cursor", ["garbage", "!!!", "eyJmb28iOiAiYmFyIn0", "a" * 600, "%00", "eyJ0IjoiMjAyNiIsImlkIjoieCJ9.bad"]
)
def test_malformed_cursor_is_400(call, operation, cursor):
    problem = call(operation, 400, params={"cursor": cursor})
    assert "cursor" in problem["detail"].lower() or "query.cursor" in _fields(problem), problem


@pytest.mark.parametrize(("operation", "name"), UUID_PATHS, ids=[f"{o.label} {n}" for o, n in UUID_PATHS])
@pytest.mark.parametrize("value", ["not-a-uuid", "123", "00000000-0000-0000-0000-00000000000g"])
def test_malformed_uuid_in_path_is_422(call, operation, name, value):
    body = operation.example if operation.body_media_type == "application/json" else None
    problem = call(operation, 422, url=operation.url(**{name: value}), json=body)
    assert f"path.{name}" in _fields(problem), problem


# --- limits that are part of the domain -------------------------------------------------------------


def _operation(label: str) -> Operation:
    found = [o for o in PROTECTED if o.label == label]
    if not found:
        pytest.skip(f"{label} is not in the spec yet")
    return found[0]


def test_batch_over_the_limit_is_422_naming_the_limit(call, settings):
    operation = _operation("POST /v1/screenings/batch")
    post = operation.example["items"][0]
    body = {**operation.example, "items": [post] * (settings.max_batch_size + 1)}
    problem = call(operation, 422, json=body)
    assert "body.items" in _fields(problem)
    assert str(settings.max_batch_size) in problem["detail"]


def test_empty_batch_is_422(call):
    operation = _operation("POST /v1/screenings/batch")
    problem = call(operation, 422, json={**operation.example, "items": []})
    assert "body.items" in _fields(problem)


def test_text_over_the_limit_is_rejected_naming_the_limit(call, settings):
    operation = _operation("POST /v1/screenings")
    body = {**operation.example, "text": "a" * (settings.max_text_chars + 1)}
    problem = call(operation, 422, json=body)
    assert "body.text" in _fields(problem)
    assert str(settings.max_text_chars) in problem["detail"].replace(",", "")


def test_unknown_route_and_wrong_method_are_problems(client, auth):
    headers = auth(ALL_SCOPES)
    r = client.get("/v1/no-such-thing", headers=headers)
    assert r.status_code == 404 and r.headers["content-type"].startswith("application/problem+json")
    r = client.put("/v1/screenings", headers=headers, json={})
    assert r.status_code == 405 and r.headers["content-type"].startswith("application/problem+json")
    assert "allow" in {k.lower() for k in r.headers}
