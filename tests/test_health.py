from fastapi.testclient import TestClient

from app.main import create_app
from tests.conftest import make_settings


def test_healthz_is_public(client):
    r = client.get("/healthz")
    assert r.status_code == 200
    assert r.json() == {"status": "ok"}


def test_readyz_when_migrated(client):
    r = client.get("/readyz")
    assert r.status_code == 200, r.text
    assert r.json() == {"status": "ready", "database": "ok", "migrations": "head", "writes": "ok"}


def test_readyz_is_503_on_an_unmigrated_database(tmp_path):
    app = create_app(make_settings(f"sqlite:///{tmp_path}/empty.db"))
    with TestClient(app) as client:
        r = client.get("/readyz")
    assert r.status_code == 503
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["migrations"] == "behind"


def test_readyz_is_503_when_the_database_is_unreachable():
    url = "postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=1"
    app = create_app(make_settings(url))
    with TestClient(app) as client:
        r = client.get("/readyz")
    assert r.status_code == 503
    assert r.json()["database"] == "unreachable"


def test_metrics_is_prometheus_text(client):
    r = client.get("/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
