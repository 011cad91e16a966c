"""`python -m app`: tokens for scripts, client creation, audit verification."""

import os
import subprocess
import sys

from app.auth.tokens import decode_token
from app.settings import Settings


def _run(*args, env_extra=None):
    env = dict(os.environ)
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-m", "app", *args], capture_output=True, text=True, env=env, timeout=60)


def test_token_prints_a_verifiable_token_on_the_last_line():
    result = _run("token", "--sub", "me", "--scopes", "policy:read screenings:write")
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip().splitlines()[-1]
    principal = decode_token(Settings(), token)
    assert principal.sub == "me"
    assert principal.scopes == {"policy:read", "screenings:write"}


def test_token_rejects_unknown_scopes():
    result = _run("token", "--sub", "me", "--scopes", "policy:read everything")
    assert result.returncode == 2
    assert "unknown scope" in result.stderr


def test_create_client_then_verify_audit(fresh_database):
    env = {"DATABASE_URL": fresh_database.url}
    created = _run("create-client", "hr-system", "--scopes", "incidents:write", env_extra=env)
    assert created.returncode == 0, created.stderr
    lines = dict(line.split("=", 1) for line in created.stdout.strip().splitlines())
    assert lines["client_id"].startswith("cli_") and len(lines["client_secret"]) >= 32
    verified = _run("verify-audit", env_extra=env)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "1 events verified" in verified.stdout
