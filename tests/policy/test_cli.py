"""`python -m app policy-status`: one line or one JSON object, exit code by status."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from dataclasses import dataclass

import pytest
from sqlmodel import Session

from app import cli
from app.db import build_engine
from app.policy.models import PolicyReview
from app.settings import Settings
from tests.conftest import make_settings


def _run(*args, env_extra=None):
    env = {**os.environ, **(env_extra or {})}
    return subprocess.run([sys.executable, "-m", "app", *args], capture_output=True, text=True, env=env, timeout=60)


@dataclass
class PolicyStatusCli:
    """`policy-status` run in-process; `settings` name the database it reads."""

    settings: Settings
    capsys: pytest.CaptureFixture[str]

    def __call__(self, *argv: str) -> tuple[int, str, str]:
        code = cli.main(["policy-status", *argv])
        out = self.capsys.readouterr()
        return code, out.out, out.err


@pytest.fixture
def run_cli(fresh_database, monkeypatch, capsys: pytest.CaptureFixture[str]) -> PolicyStatusCli:
    """Run the CLI in-process against the fresh database; returns (exit code, stdout, stderr)."""
    settings = make_settings(fresh_database.url)
    monkeypatch.setattr(cli, "get_settings", lambda: settings)
    return PolicyStatusCli(settings, capsys)


def test_subprocess_reports_the_nov_2019_policy_as_overdue(fresh_database):
    env = {"DATABASE_URL": fresh_database.url}
    result = _run("policy-status", env_extra=env)
    assert result.returncode == 2, result.stderr
    [line] = result.stdout.strip().splitlines()
    assert "OVERDUE" in line and "2019-11" in line and "due 2020-11-01" in line

    result = _run("policy-status", "--json", env_extra=env)
    assert result.returncode == 2, result.stderr
    body = json.loads(result.stdout.strip().splitlines()[-1])
    assert body["status"] == "overdue"
    assert body["last_reviewed"] == "2019-11-01"
    assert body["clause_count"] == 8


@pytest.mark.parametrize(
    ("today", "code", "words"),
    [
        ("2020-06-01", 0, "current: next review due 2020-11-01"),
        ("2020-10-01", 1, "DUE SOON"),
        ("2020-11-02", 2, "OVERDUE by 1 days"),
    ],
)
def test_exit_code_per_status(run_cli: PolicyStatusCli, today, code, words):
    exit_code, out, err = run_cli("--today", today)
    assert (exit_code, err) == (code, "")
    assert words in out and len(out.strip().splitlines()) == 1


def test_a_recorded_review_is_read_from_the_database(run_cli: PolicyStatusCli):
    engine = build_engine(run_cli.settings)
    try:
        with Session(engine) as session:
            session.add(
                PolicyReview(
                    version="2025-03",
                    previous_version="2019-11",
                    reviewed_on=dt.date(2025, 3, 14),
                    reviewer="hr-lead",
                    summary="Annual review.",
                    recorded_by="hr-1",
                )
            )
            session.commit()
    finally:
        engine.dispose()
    code, out, _ = run_cli("--json", "--today", "2025-04-01")
    body = json.loads(out)
    assert code == 0
    assert (body["version"], body["status"], body["next_review_due"]) == ("2025-03", "current", "2026-03-14")
    assert body["reviewed_by"] == "hr-lead"


def test_unmigrated_database_exits_3(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(cli, "get_settings", lambda: make_settings(f"sqlite:///{tmp_path / 'empty.db'}"))
    code = cli.main(["policy-status"])
    out = capsys.readouterr()
    assert code == 3
    assert out.out == "" and "cannot read the policy status" in out.err
