"""The token endpoint under a flood of wrong secrets, against a real uvicorn server.

Before: 150 concurrent wrong-secret requests exhausted the connection pool (500s) and stalled every
other route, because each request held a database connection while it computed the secret hash.
Now the hash runs outside any transaction, a per-process budget refuses the excess with 429, and
an unrelated authenticated read keeps its p99 under a second.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
import uuid

import httpx
import pytest

from app.settings import PROJECT_ROOT
from tests.hardening.server import Server

OWN_SECRETS = {"POLICY_JWT_SECRET": "j" * 40, "POLICY_SECRET_KEY": "s" * 40}
FLOOD_SECONDS = 6
FLOOD_CONCURRENCY = 150


def _created(server: Server, name: str, scopes: str) -> dict[str, str]:
    result = server.cli("create-client", name, "--scopes", scopes)
    assert result.returncode == 0, result.stderr
    return dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)


def _token(server: Server, scopes: str) -> str:
    result = server.cli("token", "--sub", "reader", "--scopes", scopes)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


def test_flood_of_wrong_secrets_leaves_other_routes_fast_and_nothing_5xx(fresh_database, tmp_path):
    with Server(fresh_database.url, tmp_path / "server.log", env={"POLICY_AUDIT_SEAL_INTERVAL_SECONDS": "0"}) as server:
        victim = _created(server, "hr-system", "incidents:read")
        headers = {"Authorization": f"Bearer {_token(server, 'incidents:read')}"}
        with httpx.Client(base_url=server.base_url, headers=headers, timeout=30) as reader:
            for _ in range(5):  # warm up: first connection, first query
                assert reader.get("/v1/incidents").status_code == 200
            flood = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "tests.auth.flood",
                    server.base_url,
                    victim["client_id"],
                    str(FLOOD_SECONDS),
                    str(FLOOD_CONCURRENCY),
                ],
                cwd=PROJECT_ROOT,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            time.sleep(1.5)  # let the flood reach full width
            latencies, statuses = [], []
            while flood.poll() is None:
                started = time.perf_counter()
                statuses.append(reader.get("/v1/incidents").status_code)
                latencies.append(time.perf_counter() - started)
                time.sleep(0.02)
            out, err = flood.communicate(timeout=60)
        assert flood.returncode == 0, err
        answers = json.loads(out.strip().splitlines()[-1])
        # The server stays up and well-behaved after the flood too.
        assert httpx.get(server.base_url + "/readyz", timeout=10).status_code == 200

    print(
        f"flood answers {answers}; reads {len(latencies)} p50 {statistics.median(latencies):.3f}s max {max(latencies):.3f}s"
    )
    assert len(latencies) >= 20, latencies
    p99 = statistics.quantiles(latencies, n=100)[98]
    assert set(statuses) == {200}, statuses
    assert p99 < 1.0, f"p99 {p99:.3f}s of an unrelated read during the flood"
    assert not {k for k in answers if not k.isdigit() or k.startswith("5")}, answers
    assert set(answers) <= {"401", "429"}, answers
    assert int(answers.get("429", 0)) > 0, answers  # the budget and the lockouts did refuse the excess
    assert sum(answers.values()) > FLOOD_CONCURRENCY, answers


def test_forwarded_for_from_loopback_does_not_reset_the_address_count(fresh_database, tmp_path):
    """uvicorn trusts X-Forwarded-For from loopback by default; a varying one must not mint new addresses.

    The server has its own secrets: on the published ones it would answer loopback callers only, and
    uvicorn makes these requests look as if they came from the forwarded addresses.
    """
    env = {"POLICY_AUDIT_SEAL_INTERVAL_SECONDS": "0", "POLICY_TOKEN_ADDRESS_FAILURES_PER_MINUTE": "5", **OWN_SECRETS}
    with (
        Server(fresh_database.url, tmp_path / "server.log", env=env) as server,
        httpx.Client(base_url=server.base_url, timeout=30) as client,
    ):
        statuses = []
        for n in range(12):
            r = client.post(
                "/v1/auth/token",
                data={
                    "grant_type": "client_credentials",
                    "client_id": f"cli_{uuid.uuid4().hex[:16]}",
                    "client_secret": "wrong",
                },
                headers={"X-Forwarded-For": f"198.51.100.{n + 1}"},
            )
            statuses.append(r.status_code)
    assert statuses[:5] == [401] * 5, statuses
    assert statuses[5:] == [429] * 7, statuses


@pytest.mark.parametrize("trusted", ["127.0.0.1", "127.0.0.0/8"])
def test_forwarded_for_through_a_trusted_proxy_separates_addresses(fresh_database, tmp_path, trusted):
    """With the proxy trusted (and uvicorn's own proxy handling off), each forwarded client has its own count."""
    env = {
        "POLICY_AUDIT_SEAL_INTERVAL_SECONDS": "0",
        "POLICY_TOKEN_ADDRESS_FAILURES_PER_MINUTE": "3",
        "POLICY_TRUSTED_PROXIES": json.dumps([trusted]),
    }
    with (
        Server(fresh_database.url, tmp_path / "server.log", env=env, uvicorn_args=("--no-proxy-headers",)) as server,
        httpx.Client(base_url=server.base_url, timeout=30) as client,
    ):
        victim = _created(server, "hr-system", "incidents:read")

        def attempt(address: str, secret: str) -> int:
            form = {"grant_type": "client_credentials", "client_id": victim["client_id"], "client_secret": secret}
            return client.post("/v1/auth/token", data=form, headers={"X-Forwarded-For": address}).status_code

        attacker = [attempt("203.0.113.66", "wrong") for _ in range(5)]
        rightful = attempt("192.0.2.10", victim["client_secret"])
    assert attacker == [401, 401, 401, 429, 429], attacker
    assert rightful == 200
