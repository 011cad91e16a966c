"""`python -m app client list|show|disable|enable|rotate|delete` and `revoke-token`, end to end
against a real server (so the server's own cache and the CLI's separate process both take part)."""

from __future__ import annotations

import httpx
import pytest

from tests.hardening.server import Server


def _fields(stdout: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in stdout.splitlines() if "=" in line)


@pytest.fixture
def server(fresh_database, tmp_path):
    env = {"POLICY_AUDIT_SEAL_INTERVAL_SECONDS": "0", "POLICY_ACCESS_CACHE_SECONDS": "0"}
    with Server(fresh_database.url, tmp_path / "server.log", env=env) as running:
        yield running


def _token(http: httpx.Client, client_id: str, secret: str) -> httpx.Response:
    return http.post(
        "/v1/auth/token", data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}
    )


def test_client_lifecycle_from_the_cli(server):
    created = server.cli("create-client", "hr-system", "--scopes", "incidents:read")
    assert created.returncode == 0, created.stderr
    client = _fields(created.stdout)
    duplicate = server.cli("create-client", "hr-system", "--scopes", "incidents:read")
    assert duplicate.returncode == 1 and "already exists" in duplicate.stderr

    listed = server.cli("client", "list")
    assert listed.returncode == 0 and client["client_id"] in listed.stdout and "active" in listed.stdout
    shown = _fields(server.cli("client", "show", client["client_id"]).stdout)
    assert shown["name"] == "hr-system" and shown["status"] == "active"
    assert client["client_secret"] not in listed.stdout + str(shown)

    with httpx.Client(base_url=server.base_url, timeout=30) as http:
        issued = _token(http, client["client_id"], client["client_secret"])
        assert issued.status_code == 200
        bearer = {"Authorization": f"Bearer {issued.json()['access_token']}"}
        assert http.get("/v1/incidents", headers=bearer).status_code == 200

        assert _fields(server.cli("client", "disable", client["client_id"]).stdout)["status"] == "disabled"
        assert http.get("/v1/incidents", headers=bearer).status_code == 401
        assert _token(http, client["client_id"], client["client_secret"]).status_code == 401
        assert _fields(server.cli("client", "enable", client["client_id"]).stdout)["status"] == "active"
        assert http.get("/v1/incidents", headers=bearer).status_code == 200

        rotated = server.cli("client", "rotate", client["client_id"])
        assert rotated.returncode == 0, rotated.stderr
        new = _fields(rotated.stdout)
        assert new["client_secret"] != client["client_secret"] and new["previous_secret_expires_at"]
        assert _token(http, client["client_id"], new["client_secret"]).status_code == 200
        assert _token(http, client["client_id"], client["client_secret"]).status_code == 200  # grace period

        jti_token = _token(http, client["client_id"], new["client_secret"]).json()["access_token"]
        revoked = server.cli("revoke-token", jti_token)
        assert revoked.returncode == 0, revoked.stderr
        assert http.get("/v1/incidents", headers={"Authorization": f"Bearer {jti_token}"}).status_code == 401
        assert http.get("/v1/incidents", headers=bearer).status_code == 200  # only that one token

        assert server.cli("client", "delete", client["client_id"]).returncode == 0
        assert http.get("/v1/incidents", headers=bearer).status_code == 401
    missing = server.cli("client", "show", client["client_id"])
    assert missing.returncode == 1 and "No client" in missing.stderr
    assert server.cli("client", "disable").returncode == 2  # CLIENT_ID is needed
