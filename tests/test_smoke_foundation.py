def test_healthz(client):
    r = client.get("/healthz")
    assert r.status_code == 200
    assert r.json() == {"status": "ok"}
    assert r.headers["x-content-type-options"] == "nosniff"


def test_readyz(client):
    r = client.get("/readyz")
    assert r.status_code == 200, r.text
    assert r.json()["migrations"] == "head"
