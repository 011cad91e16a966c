"""Garbage-collector tuning: once per process, at the end of start-up, and off when set to 0.

Each case runs in its own interpreter: the tuning is process-wide and happens only once.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _run(code: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_the_first_call_freezes_and_sets_the_threshold_and_later_calls_do_nothing() -> None:
    seen = _run(
        """
        import gc, json
        from app.runtime import tune_gc_once
        before = gc.get_threshold()
        first = tune_gc_once(5000)
        frozen = gc.get_freeze_count()
        second = tune_gc_once(9000)
        print(json.dumps({"before": before, "first": first, "second": second,
                          "frozen": frozen, "after": gc.get_threshold()}))
        """
    )
    assert seen["first"] is True and seen["second"] is False
    assert seen["frozen"] > 1000, "the objects alive at start-up were not frozen"
    assert seen["after"] == [5000, *seen["before"][1:]]


def test_zero_leaves_the_collector_alone() -> None:
    seen = _run(
        """
        import gc, json
        from app.runtime import tune_gc_once
        before = gc.get_threshold()
        print(json.dumps({"tuned": tune_gc_once(0), "frozen": gc.get_freeze_count(),
                          "same": gc.get_threshold() == before}))
        """
    )
    assert seen == {"tuned": False, "frozen": 0, "same": True}


def test_the_app_tunes_the_collector_when_it_starts_with_its_setting() -> None:
    seen = _run(
        """
        import gc, json
        from fastapi.testclient import TestClient
        from app.main import create_app
        from app.settings import Settings
        app = create_app(Settings(database_url="sqlite:///:memory:", gc_young_threshold=4321,
                                  audit_seal_interval_seconds=0, purge_interval_seconds=0))
        built = {"threshold": gc.get_threshold()[0], "frozen": gc.get_freeze_count()}
        with TestClient(app) as client:
            client.get("/healthz")
            started = {"threshold": gc.get_threshold()[0], "frozen": gc.get_freeze_count()}
        print(json.dumps({"built": built, "started": started}))
        """
    )
    assert seen["built"] == {"threshold": 700, "frozen": 0}, "tuned before start-up finished"
    assert seen["started"]["threshold"] == 4321 and seen["started"]["frozen"] > 1000
