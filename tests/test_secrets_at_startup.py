"""Secrets at start-up (issue 15): no message shows a secret or any part of it; production needs two
distinct strong keys and refuses the repository's; development on the published secrets warns and
answers loopback callers only."""

from __future__ import annotations

import logging
import os
import subprocess
import sys

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from app.main import create_app
from app.settings import DEV_JWT_SECRET, DEV_SECRET_KEY, PROJECT_ROOT, Settings

STRONG = "k" * 40
LEAKY = "short-but-recognisable-XYZZY"


def test_the_refusal_does_not_show_the_secret_or_its_end():
    with pytest.raises(ValidationError) as info:
        Settings(env="production", jwt_secret=LEAKY)
    message = str(info.value)
    assert "POLICY_JWT_SECRET" in message
    assert "XYZZY" not in message and "recognisable" not in message


def test_the_start_up_error_of_the_server_does_not_show_the_secret():
    env = {k: v for k, v in os.environ.items() if not k.startswith("POLICY_")}
    env.update({"POLICY_ENV": "production", "POLICY_JWT_SECRET": LEAKY, "POLICY_SECRET_KEY": STRONG})
    result = subprocess.run(
        [sys.executable, "-c", "import app.main"], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    assert "POLICY_JWT_SECRET" in result.stderr
    assert "XYZZY" not in result.stderr and "kkkkkkkk" not in result.stderr


@pytest.mark.parametrize(
    ("jwt_secret", "secret_key", "named"),
    [
        (STRONG, STRONG, "different"),
        (DEV_SECRET_KEY, STRONG, "POLICY_JWT_SECRET"),  # the other default is no better
        (STRONG, DEV_JWT_SECRET, "POLICY_SECRET_KEY"),
    ],
)
def test_production_needs_two_distinct_non_default_keys(jwt_secret, secret_key, named):
    with pytest.raises(ValidationError, match=named):
        Settings(env="production", jwt_secret=jwt_secret, secret_key=secret_key)


class _Captured(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.fixture
def startup_log():
    """Messages of `app.main` (the `app` logger does not propagate to pytest's caplog)."""
    captured = _Captured()
    logging.getLogger("app.main").addHandler(captured)
    yield captured.messages
    logging.getLogger("app.main").removeHandler(captured)


def _dev_app(tmp_path, **overrides):
    settings = Settings(
        env="development", database_url=f"sqlite:///{tmp_path}/dev.db", audit_seal_interval_seconds=0, **overrides
    )
    return create_app(settings)


def test_development_on_published_secrets_warns_at_start(tmp_path, startup_log):
    with TestClient(_dev_app(tmp_path), client=("127.0.0.1", 5000)):
        pass
    warnings = startup_log
    assert any("POLICY_JWT_SECRET" in w and "loopback" in w for w in warnings), warnings
    assert not any(DEV_JWT_SECRET in w or DEV_SECRET_KEY in w for w in warnings)


def test_development_on_published_secrets_answers_loopback_only(tmp_path):
    app = _dev_app(tmp_path)
    with TestClient(app, client=("127.0.0.1", 5000)) as local:
        assert local.get("/healthz").status_code == 200
    with TestClient(app, client=("::1", 5000)) as local6:
        assert local6.get("/healthz").status_code == 200
    with TestClient(app, client=("192.0.2.44", 5000)) as remote:
        r = remote.get("/healthz")
    assert r.status_code == 403
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "loopback" in r.json()["detail"]


def test_development_with_own_secrets_answers_everyone_and_does_not_warn(tmp_path, startup_log):
    app = _dev_app(tmp_path, jwt_secret=STRONG, secret_key=STRONG + "2")
    with TestClient(app, client=("192.0.2.44", 5000)) as remote:
        assert remote.get("/healthz").status_code == 200
    assert startup_log == []


def test_make_run_binds_loopback():
    makefile = (PROJECT_ROOT / "Makefile").read_text()
    assert "HOST ?= 127.0.0.1" in makefile
    assert "--host $(HOST)" in makefile
