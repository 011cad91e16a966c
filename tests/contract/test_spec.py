"""The live OpenAPI document validates and carries what generated clients and openapi.md rely on."""

import datetime as dt
import importlib
import pkgutil
import re

import pytest
from openapi_spec_validator import validate
from pydantic import BaseModel

import app as app_package
from app.main import create_app
from app.settings import Settings

PUBLIC_PATHS = {"/healthz", "/readyz", "/metrics", "/v1/auth/token"}
METHODS = ("get", "post", "put", "patch", "delete")

# DESIGN.md section 9: the core operationIds, exactly.
REQUIRED_OPERATION_IDS = {
    "createScreening",
    "createScreeningBatch",
    "getScreening",
    "listScreenings",
    "createIncident",
    "getIncident",
    "listIncidents",
    "getEscalation",
    "advanceEscalation",
    "resolveEscalation",
    "lodgeAppeal",
    "decideAppeal",
    "getPolicyStatus",
    "listPolicyClauses",
    "createPolicyReview",
    "listPolicyReviews",
    "createAcknowledgement",
    "listAcknowledgements",
    "createAuthority",
    "listAuthorities",
    "revokeAuthority",
    "createProtectedTerm",
    "listProtectedTerms",
    "deleteProtectedTerm",
    "issueToken",
}
CAMEL_CASE = re.compile(r"^[a-z]+(?:[A-Z][a-z0-9]*)+$|^[a-z]+$")


def _spec() -> dict:
    return create_app(Settings(database_url="sqlite:///:memory:")).openapi()


SPEC = _spec()
OPERATIONS = [
    (method, path, op) for path, item in SPEC["paths"].items() for method, op in item.items() if method in METHODS
]
IDS = [f"{m.upper()} {p}" for m, p, _ in OPERATIONS]


def test_spec_validates():
    validate(SPEC)


def test_servers_list_the_local_default():
    assert SPEC["servers"][0]["url"].startswith("http://127.0.0.1")


def test_core_operation_ids_all_exist():
    present = {op.get("operationId") for _, _, op in OPERATIONS}
    missing = sorted(REQUIRED_OPERATION_IDS - present)
    assert not missing, f"operationIds missing from the spec (DESIGN.md section 9): {missing}"


def test_operation_ids_are_unique():
    ids = [op.get("operationId") for _, _, op in OPERATIONS]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)


@pytest.mark.parametrize(("method", "path", "op"), OPERATIONS, ids=IDS)
def test_operation_is_documented(method, path, op):
    assert op.get("summary"), "summary missing"
    assert op.get("description"), "description (route docstring) missing"
    op_id = op.get("operationId", "")
    assert CAMEL_CASE.match(op_id), f"operationId {op_id!r} is not camelCase"
    assert op.get("tags"), "tags missing"
    responses = op["responses"]
    success = [s for s in responses if s.startswith("2")]
    assert success, "no 2xx response documented"
    for status, response in responses.items():
        if status.startswith(("4", "5")):
            content = response.get("content", {})
            assert "application/problem+json" in content, f"{status} is not documented as problem+json"
            assert "application/json" not in content, f"{status} also claims application/json"
    if path not in PUBLIC_PATHS:
        documented = set(responses)
        needed = {"400", "401", "403", "422"}
        assert needed <= documented, f"missing documented errors: {sorted(needed - documented)}"
        if "{" in path:
            assert "404" in documented, "path has an id but no 404 documented"
        if method == "post" or op.get("requestBody"):
            assert "413" in documented, "accepts a body but no 413 documented"
    if op.get("requestBody"):
        assert "415" in set(responses), "accepts a body but no 415 (wrong media type) documented"
        # FastAPI's default 422 schema (HTTPValidationError) must be replaced by the problem schema.
        assert "HTTPValidationError" not in str(responses.get("422", {}))


@pytest.mark.parametrize(("method", "path", "op"), OPERATIONS, ids=IDS)
def test_request_bodies_have_examples_and_forbid_unknown_fields(method, path, op):
    body = op.get("requestBody")
    if not body:
        pytest.skip("no request body")
    components = SPEC["components"]["schemas"]
    for media_type, media in body["content"].items():
        schema = media["schema"]
        if "$ref" in schema:
            name = schema["$ref"].rsplit("/", 1)[-1]
            target = components[name]
            if media_type != "application/json":
                continue  # the OAuth2 token form follows RFC 6749, not our JSON conventions
            assert target.get("additionalProperties") is False, f"{name} accepts unknown fields"
            has_example = "example" in media or "examples" in media or "example" in target or "examples" in target
            assert has_example, f"{name} has no example"


def _has_example(media: dict, components: dict) -> bool:
    """True when the media type, or the schema it names (directly or as an anyOf branch), has an example."""
    if media.get("example") is not None or media.get("examples"):
        return True
    schema = media.get("schema", {})
    for candidate in [schema, *schema.get("anyOf", [])]:
        if "$ref" in candidate:
            target = components[candidate["$ref"].rsplit("/", 1)[-1]]
            if target.get("example") is not None or target.get("examples"):
                return True
    return False


BODIES = [
    (op["operationId"], media_type, media)
    for _, _, op in OPERATIONS
    for media_type, media in op.get("requestBody", {}).get("content", {}).items()
]
SUCCESS_CONTENTS = [
    (op["operationId"], status, media_type, media)
    for _, _, op in OPERATIONS
    for status, response in op["responses"].items()
    if status.startswith("2")
    for media_type, media in response.get("content", {}).items()
]


def test_every_request_body_has_an_example():
    assert len(BODIES) >= 12
    components = SPEC["components"]["schemas"]
    missing = [f"{op_id} ({media_type})" for op_id, media_type, media in BODIES if not _has_example(media, components)]
    assert missing == [], f"request bodies without an example: {missing}"


def test_every_success_response_has_an_example():
    assert len(SUCCESS_CONTENTS) >= 30
    components = SPEC["components"]["schemas"]
    missing = [
        f"{op_id} {status} ({media_type})"
        for op_id, status, media_type, media in SUCCESS_CONTENTS
        if not _has_example(media, components)
    ]
    assert missing == [], f"2xx responses without an example: {missing}"


def test_if_match_is_required_wherever_its_absence_is_428():
    guarded = [op for _, _, op in OPERATIONS if "428" in op["responses"]]
    assert len(guarded) >= 4
    for op in guarded:
        if_match = [p for p in op.get("parameters", []) if p["in"] == "header" and p["name"].lower() == "if-match"]
        assert len(if_match) == 1 and if_match[0]["required"] is True, op["operationId"]
    for _, _, op in OPERATIONS:
        if any(p["name"].lower() == "if-match" for p in op.get("parameters", [])):
            assert op in guarded, f"{op['operationId']} takes If-Match but does not document 428"


def test_servers_come_from_the_public_base_url():
    app = create_app(
        Settings(env="test", database_url="sqlite:///:memory:", public_base_url="https://policy.example.org/")
    )
    assert [s["url"] for s in app.openapi()["servers"]] == ["https://policy.example.org/"]


def test_problem_types_come_from_the_pack_or_settings_not_the_deployment():
    from fastapi.testclient import TestClient

    from app.policy.pack import load_pack

    domain = load_pack(None).organisation.domains[0]
    app = create_app(
        Settings(env="test", database_url="sqlite:///:memory:", public_base_url="https://policy.example.org/")
    )
    assert TestClient(app).get("/v1/screenings").json()["type"] == f"https://{domain}/problems/unauthorized"
    app = create_app(
        Settings(env="test", database_url="sqlite:///:memory:", problem_type_base="https://errors.example.org/p")
    )
    assert TestClient(app).get("/v1/screenings").json()["type"] == "https://errors.example.org/p/unauthorized"


def test_docs_are_served_from_local_assets():
    from fastapi.testclient import TestClient

    client = TestClient(create_app(Settings(env="test", database_url="sqlite:///:memory:")))
    page = client.get("/docs")
    assert page.status_code == 200
    html = page.text
    assert "SwaggerUIBundle" in html
    assert not re.search(r"(?:https?:)?//[A-Za-z0-9.-]+", html), "the docs page references another host"
    assets = re.findall(r'(?:src|href)="(/[^"]+)"', html)
    assert {a.rsplit("/", 1)[-1] for a in assets} >= {"swagger-ui-bundle.js", "swagger-ui.css"}
    for asset in assets:
        response = client.get(asset)
        assert response.status_code == 200 and len(response.content) > 100, asset
    assert client.get("/redoc").status_code == 404  # ReDoc would load its script from a CDN


def test_post_operations_accept_idempotency_key():
    missing = [
        f"POST {path}"
        for method, path, op in OPERATIONS
        if method == "post"
        and path not in PUBLIC_PATHS
        and not any(p["name"].lower() == "idempotency-key" for p in op.get("parameters", []))
    ]
    assert missing == []


def test_timestamps_are_documented_as_date_time():
    bad = []
    for name, schema in SPEC["components"]["schemas"].items():
        for field, prop in schema.get("properties", {}).items():
            if field.endswith("_at"):
                options = prop.get("anyOf", [prop])
                if not any(o.get("format") == "date-time" for o in options):
                    bad.append(f"{name}.{field}")
    assert bad == []


# A batch is not one resource: its 201 carries no `Location` (each item has its own `id`).
NO_LOCATION_201 = {"createScreeningBatch"}


def test_every_201_documents_location():
    missing = [
        op["operationId"]
        for _, _, op in OPERATIONS
        if "201" in op["responses"]
        and op["operationId"] not in NO_LOCATION_201
        and "Location" not in op["responses"]["201"].get("headers", {})
    ]
    assert missing == [], f"201 responses without a documented Location header: {missing}"


def test_location_and_etag_headers_are_documented_where_sent():
    ops = {op["operationId"]: op for _, _, op in OPERATIONS}
    for op_id in (
        "createScreening",
        "createIncident",
        "createPolicyReview",
        "createAcknowledgement",
        "createProtectedTerm",
        "createAuthority",
    ):
        header = ops[op_id]["responses"]["201"]["headers"]["Location"]
        assert header["schema"]["type"] == "string" and header["description"]
    # An existing acknowledgement is answered 200 with the same Location.
    assert "Location" in ops["createAcknowledgement"]["responses"]["200"]["headers"]
    for op_id in ("getEscalation", "advanceEscalation", "resolveEscalation", "lodgeAppeal", "decideAppeal"):
        assert "ETag" in ops[op_id]["responses"]["200"].get("headers", {}), op_id


def test_no_operation_declares_an_accept_header_parameter():
    # OpenAPI 3 ignores header parameters named Accept, Content-Type and Authorization.
    bad = [
        f"{op['operationId']}: {p['name']}"
        for _, _, op in OPERATIONS
        for p in op.get("parameters", [])
        if p["in"] == "header" and p["name"].lower() in {"accept", "content-type", "authorization"}
    ]
    assert bad == []
    letter = next(op for _, _, op in OPERATIONS if op["operationId"] == "getEscalationLetter")
    assert {"text/markdown", "text/plain"} <= set(letter["responses"]["200"]["content"])


def test_new_resource_locations_have_a_get_route():
    """Every Location template a 201 documents is a path the spec can GET."""
    paths = {path: item for path, item in SPEC["paths"].items()}
    for _, _, op in OPERATIONS:
        header = op["responses"].get("201", {}).get("headers", {}).get("Location")
        if header is None:
            continue
        match = re.search(r"`(/v1/[^`]+)`", header["description"])
        assert match, f"{op['operationId']}: the Location description names no /v1/ path"
        template = match.group(1)
        assert template in paths and "get" in paths[template], f"{op['operationId']}: no GET {template}"


def _body_models():
    """(operationId, pydantic model) for every JSON request body, found by component name in app.*.schemas."""
    models = {}
    for info in pkgutil.iter_modules(app_package.__path__):
        if not info.ispkg:
            continue
        try:
            module = importlib.import_module(f"app.{info.name}.schemas")
        except ModuleNotFoundError:
            continue
        models.update({k: v for k, v in vars(module).items() if isinstance(v, type) and issubclass(v, BaseModel)})
    for _, _, op in OPERATIONS:
        schema = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {})
        if "$ref" in schema:
            yield op["operationId"], models[schema["$ref"].rsplit("/", 1)[-1]]


@pytest.mark.parametrize(("op_id", "model"), list(_body_models()), ids=lambda v: v if isinstance(v, str) else "")
def test_request_examples_are_still_valid_today(op_id, model):
    """Examples with dates rot: a grant that ended, a post or review dated in the future are all rejected."""
    examples = model.model_json_schema().get("examples", [])
    today = dt.datetime.now(dt.UTC).date()
    for example in examples:
        model.model_validate(example)  # e.g. `valid_until` in the past, `posted_at` in the future
        for field in ("reviewed_on", "posted_at"):
            if field in example:
                assert dt.date.fromisoformat(example[field][:10]) <= today, f"{op_id}: {field} is in the future"
        if "valid_until" in example:
            until = dt.date.fromisoformat(example["valid_until"][:10])
            assert until > today + dt.timedelta(days=365 * 5), f"{op_id}: valid_until will soon be in the past"
