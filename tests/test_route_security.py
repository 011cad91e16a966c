"""Walk the route table: every route but the public ones refuses a missing token and a wrong scope."""

import re
import uuid

import pytest
from fastapi.routing import iter_route_contexts

from app.auth.scopes import Scope
from app.main import create_app
from app.settings import Settings

PUBLIC = {
    "/healthz",
    "/readyz",
    "/metrics",
    "/v1/auth/token",
    "/openapi.json",
    "/docs",
    "/docs/oauth2-redirect",
    "/redoc",
}
ALL_SCOPES = {s.value for s in Scope}


def _spec_and_routes():
    app = create_app(Settings(database_url="sqlite:///:memory:"))
    spec = app.openapi()
    # FastAPI >= 0.160 nests included routers; iter_route_contexts flattens them again.
    contexts = list(iter_route_contexts(app.routes))
    routes = sorted(
        {(method, ctx.path_format) for ctx in contexts for method in (ctx.methods or ()) if method != "HEAD"}
    )
    return spec, routes


SPEC, ALL_ROUTES = _spec_and_routes()
ROUTES = [
    (method, path, frozenset(SPEC["paths"].get(path, {}).get(method.lower(), {}).get("x-required-scopes", ())))
    for method, path in ALL_ROUTES
    if path not in PUBLIC
]


def _concrete(path):
    return re.sub(r"\{[^}]+\}", str(uuid.uuid4()), path)


def test_the_walk_sees_every_route():
    assert len(ROUTES) >= 20, ROUTES
    documented = {(m.upper(), p) for p, item in SPEC["paths"].items() for m in item}
    assert {(m, p) for m, p, _ in ROUTES} <= documented


def test_every_protected_route_declares_a_scope():
    missing = [f"{m} {p}" for m, p, scopes in ROUTES if not scopes]
    assert missing == [], f"routes without require(...): {missing}"


@pytest.mark.parametrize(("method", "path", "scopes"), ROUTES, ids=[f"{m} {p}" for m, p, _ in ROUTES])
def test_route_refuses_missing_token_and_wrong_scope(client, auth, method, path, scopes):
    url = _concrete(path)
    r = client.request(method, url)
    assert r.status_code == 401, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    others = " ".join(sorted(ALL_SCOPES - scopes))
    r = client.request(method, url, headers=auth(others))
    assert r.status_code == 403, r.text
    assert r.headers["content-type"].startswith("application/problem+json")


def test_public_routes_need_no_token(client):
    for path in ("/healthz", "/metrics", "/openapi.json", "/docs"):
        assert client.get(path).status_code == 200, path


def test_openapi_marks_public_and_protected_operations(client):
    spec = client.get("/openapi.json").json()
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if path in PUBLIC:
                assert op.get("security") == [], (method, path)
            else:
                assert op["x-required-scopes"], (method, path)
                assert op["security"] == [{"bearerAuth": [s]} for s in op["x-required-scopes"]], (method, path)
