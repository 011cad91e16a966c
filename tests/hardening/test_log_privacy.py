"""Post text, personal data, secrets and tokens never reach the logs, even at DEBUG.

A real `uvicorn` process with POLICY_LOG_LEVEL=DEBUG screens a post carrying a phone number, a
child's name and a password, records an incident whose summary and evidence carry them, and gets
requests with a valid token, an invalid one, a wrong client secret and a failing validation; then
its whole stderr (our JSON logs, uvicorn's and any library's) must contain none of those strings.
"""

from __future__ import annotations

import base64

import httpx
import pytest

from app.auth.tokens import create_access_token
from tests.conftest import create_database, make_settings, migrate
from tests.hardening.server import Server

pytestmark = pytest.mark.slow

PHONE = "07700 900461"
CHILD = "Tallulah Wintergreen"
PASSWORD = "Hunter2-Kestrel!"
POST = f"Lovely day at the centre with {CHILD}, age 7. Call me on {PHONE}. The office password is {PASSWORD}"
INVALID_TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJtYWxsb3J5In0.forged-signature-K3stR3l"
WRONG_SECRET = "not-the-secret-Zq8vW2"


def test_logs_carry_no_post_text_personal_data_or_secrets(tmp_path):
    db = create_database("sqlite", str(tmp_path))
    settings = make_settings(db.url)
    migrate(settings)
    token = create_access_token(
        settings, sub="log-privacy", scopes=["screenings:write", "screenings:read", "incidents:write", "incidents:read"]
    )
    log_path = tmp_path / "server.log"
    with Server(db.url, log_path, env={"POLICY_LOG_LEVEL": "DEBUG"}) as server:
        created = server.cli("create-client", "log-privacy-client", "--scopes", "screenings:write")
        assert created.returncode == 0, created.stderr
        client_id = created.stdout.split("client_id=")[1].split()[0]
        client_secret = created.stdout.split("client_secret=")[1].split()[0]
        good = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=server.base_url, timeout=10) as client:
            screened = client.post(
                "/v1/screenings",
                json={"text": POST, "author": {"id": "vol-1", "role": "volunteer"}, "platform": "facebook"},
                headers=good,
            )
            assert screened.status_code == 201, screened.text
            assert screened.json()["verdict"] in ("block", "review")
            client.post(
                "/v1/screenings/batch",
                json={"items": [{"text": POST, "author": {"id": "vol-1", "role": "volunteer"}, "platform": "x"}]},
                headers=good,
            )
            client.get(f"/v1/screenings/{screened.json()['id']}?explain=true", headers=good)
            incident = client.post(
                "/v1/incidents",
                json={
                    "subject": {"id": "vol-1", "role": "volunteer"},
                    "platform": "facebook",
                    "posted_at": "2026-01-05T09:00:00Z",
                    "summary": POST,
                    "evidence": f"Screenshot: {POST}",
                },
                headers=good,
            )
            assert incident.status_code == 201, incident.text
            # Validation failures echo nothing of the input into the logs either.
            client.post("/v1/screenings", json={"text": POST, "author": {"id": "vol-1"}, "platform": 3}, headers=good)
            client.post("/v1/screenings", json={"text": POST + "\x00"}, headers=good)
            # Bad and good credentials, in the header and (wrongly) in the query string.
            client.get("/v1/screenings", headers={"Authorization": f"Bearer {INVALID_TOKEN}"})
            client.get(f"/v1/screenings?access_token={token}")
            client.get(
                "/v1/screenings", headers={"Authorization": f"Basic {base64.b64encode(PASSWORD.encode()).decode()}"}
            )
            for secret in (WRONG_SECRET, client_secret):
                client.post(
                    "/v1/auth/token",
                    data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret},
                )
            issued = client.post(
                "/v1/auth/token",
                data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": client_secret},
            )
            issued_token = issued.json().get("access_token", "") if issued.status_code == 200 else ""
    logs = log_path.read_text(encoding="utf-8", errors="replace")
    assert '"app.access"' in logs or '"request"' in logs, f"no access log captured at DEBUG:\n{logs[:2000]}"
    secrets = {
        "phone number": PHONE,
        "phone digits": PHONE.replace(" ", ""),
        "child's name": CHILD,
        "child's surname": "Wintergreen",
        "password": PASSWORD,
        "post text": "Lovely day at the centre",
        "valid token": token,
        "valid token signature": token.rsplit(".", 1)[-1],
        "invalid token": INVALID_TOKEN,
        "invalid token signature": "forged-signature-K3stR3l",
        "wrong client secret": WRONG_SECRET,
        "client secret": client_secret,
    }
    if issued_token:
        secrets["issued token"] = issued_token
    leaked = [name for name, value in secrets.items() if value and value in logs]
    assert leaked == [], f"leaked into the logs: {leaked}"
    db.drop()
