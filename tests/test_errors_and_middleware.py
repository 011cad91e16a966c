"""Problem+json for every error, request ids, security headers, body limit, metrics, logs."""

import json
import logging

import pytest
from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict


class Echo(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    count: int


@pytest.fixture
def extra_routes(app, client):
    router = APIRouter()

    @router.post("/v1/_echo")
    def echo(payload: Echo) -> Echo:
        return payload

    @router.get("/v1/_boom")
    def boom() -> dict:
        raise RuntimeError("secret-internal-detail")

    app.include_router(router)
    return client


def _is_problem(response, status):
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    for member in ("type", "title", "status", "detail", "instance", "request_id"):
        assert member in body, member
    assert body["status"] == status
    return body


def test_unknown_route_is_404_problem(client):
    body = _is_problem(client.get("/v1/nothing-here"), 404)
    assert body["instance"] == "/v1/nothing-here"


def test_wrong_method_is_405_problem(client):
    _is_problem(client.delete("/healthz"), 405)


def test_validation_error_names_fields(extra_routes):
    body = _is_problem(extra_routes.post("/v1/_echo", json={"name": 3, "extra": 1}), 422)
    fields = {e["field"] for e in body["errors"]}
    assert fields == {"body.name", "body.count", "body.extra"}
    assert "body.count" in body["detail"]


def test_malformed_json_is_400(extra_routes):
    r = extra_routes.post("/v1/_echo", content=b'{"name": ', headers={"content-type": "application/json"})
    body = _is_problem(r, 400)
    assert body["errors"][0]["field"] == "body"


class _Capture(logging.Handler):
    def __init__(self):
        super().__init__()
        from app.logging_config import JsonFormatter

        self.lines: list[str] = []
        self.setFormatter(JsonFormatter())

    def emit(self, record):
        self.lines.append(self.format(record))


@pytest.fixture
def app_logs():
    capture = _Capture()
    logger = logging.getLogger("app")
    logger.addHandler(capture)
    logging.getLogger("app.access").setLevel(logging.INFO)
    yield capture.lines
    logger.removeHandler(capture)


def test_unhandled_exception_is_500_problem_with_request_id(extra_routes, app_logs):
    r = extra_routes.get("/v1/_boom", headers={"X-Request-ID": "req-boom-1"})
    body = _is_problem(r, 500)
    assert body["request_id"] == "req-boom-1"
    assert "secret-internal-detail" not in r.text
    errors = [json.loads(line) for line in app_logs if '"ERROR"' in line]
    assert errors and errors[0]["request_id"] == "req-boom-1"
    assert "RuntimeError" in errors[0]["exception"]


def test_request_id_is_echoed_or_generated(client):
    assert client.get("/healthz", headers={"X-Request-ID": "abc-123"}).headers["x-request-id"] == "abc-123"
    generated = client.get("/healthz", headers={"X-Request-ID": "bad id with spaces\n"}).headers["x-request-id"]
    assert generated and " " not in generated


def test_security_headers(client):
    r = client.get("/healthz")
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["x-frame-options"] == "DENY"
    r = client.get("/v1/nothing", headers={"Authorization": "Bearer x"})
    assert r.headers["cache-control"] == "no-store"


def test_body_over_limit_is_413_by_content_length(extra_routes, settings):
    payload = b'{"name": "' + b"a" * (settings.max_body_bytes + 10) + b'", "count": 1}'
    r = extra_routes.post("/v1/_echo", content=payload, headers={"content-type": "application/json"})
    body = _is_problem(r, 413)
    assert body["limit_bytes"] == settings.max_body_bytes


def test_body_over_limit_is_413_when_streamed(extra_routes, settings):
    def chunks():
        yield b'{"name": "'
        for _ in range(settings.max_body_bytes // 65536 + 2):
            yield b"a" * 65536
        yield b'", "count": 1}'

    r = extra_routes.post("/v1/_echo", content=chunks(), headers={"content-type": "application/json"})
    _is_problem(r, 413)


def test_metrics_count_by_route_template(client):
    client.get("/healthz")
    client.get("/v1/nothing-1")
    text = client.get("/metrics").text
    assert 'http_requests_total{method="GET",route="/healthz",status="200"}' in text
    assert 'route="unmatched",status="404"' in text
    assert "http_request_duration_seconds_bucket" in text


def test_access_log_is_json_without_secrets(extra_routes, app_logs):
    extra_routes.post(
        "/v1/_echo?token=querysecret",
        json={"name": "body-secret-text", "count": 1},
        headers={"Authorization": "Bearer header-secret-token"},
    )
    access = [json.loads(line) for line in app_logs if '"app.access"' in line]
    assert access and access[-1]["route"] == "/v1/_echo" and access[-1]["status"] == 200
    joined = "\n".join(app_logs)
    for secret in ("body-secret-text", "header-secret-token", "querysecret"):
        assert secret not in joined
