"""Nothing acknowledged is lost: SIGKILL a real server mid-load, restart it, find every 2xx'd record.

A `uvicorn` process on a fresh SQLite file, then on a fresh PostgreSQL schema (skipped when
unreachable), takes screenings and incidents from several threads at once. It is killed with
SIGKILL while requests are in flight, restarted on the same database, and every id that came back
with a 2xx must be readable; `python -m app verify-audit` must still find the audit chain intact.
"""

from __future__ import annotations

import itertools
import threading
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest

from app.auth.tokens import create_access_token
from tests.conftest import create_database, make_settings, migrate
from tests.hardening.server import Server

pytestmark = pytest.mark.slow

THREADS = 6
LOAD_SECONDS = 2.0
SCOPES = ["screenings:write", "screenings:read", "incidents:write", "incidents:read"]


def _screening(n: int) -> dict:
    return {
        "text": f"Post {n}: great day volunteering at the centre! Call me on 07700 900{n % 1000:03d}.",
        "author": {"id": f"dur-author-{n % 7}", "role": "volunteer"},
        "platform": "facebook",
    }


def _incident(n: int) -> dict:
    return {
        "subject": {"id": f"dur-subject-{n % 5}", "role": "volunteer"},
        "platform": "facebook",
        "posted_at": "2026-01-05T09:00:00Z",
        "summary": f"Derogatory post number {n} about the centre's staff.",
    }


def _load(
    base_url: str, headers: dict[str, str], stop: threading.Event, acked: list[tuple[str, str]], counter: Iterator[int]
) -> None:
    with httpx.Client(base_url=base_url, headers=headers, timeout=10) as client:
        while not stop.is_set():
            n = next(counter)
            kind, path, body = (
                ("screening", "/v1/screenings", _screening(n)) if n % 2 else ("incident", "/v1/incidents", _incident(n))
            )
            try:
                response = client.post(path, json=body, headers={"Idempotency-Key": str(uuid.uuid4())})
            except httpx.HTTPError:
                if stop.is_set():
                    return
                time.sleep(0.05)  # the server is gone; keep trying until told to stop
                continue
            if 200 <= response.status_code < 300:
                acked.append((kind, response.json()["id"]))
            else:
                acked.append(("error", f"{response.status_code} {response.text[:300]}"))


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_sigkill_mid_load_loses_nothing_acknowledged(kind, tmp_path):
    db = create_database(kind, str(tmp_path))
    try:
        settings = make_settings(db.url)
        migrate(settings)
        token = create_access_token(settings, sub="durability", scopes=SCOPES)
        headers = {"Authorization": f"Bearer {token}"}
        server = Server(db.url, tmp_path / "server.log").start()
        stop, counter = threading.Event(), itertools.count()
        acked: list[tuple[str, str]] = []
        threads = [
            threading.Thread(target=_load, args=(server.base_url, headers, stop, acked, counter), daemon=True)
            for _ in range(THREADS)
        ]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + LOAD_SECONDS
        while time.monotonic() < deadline or len(acked) < 20:
            time.sleep(0.05)
            assert time.monotonic() < deadline + 15, f"too few requests acknowledged: {acked[:5]}"
        server.kill()  # mid-load: requests are in flight
        time.sleep(0.3)
        stop.set()
        for thread in threads:
            thread.join(timeout=15)

        errors = [detail for what, detail in acked if what == "error"]
        assert not [e for e in errors if e.startswith("5")], errors[:5]
        stored = [(what, ident) for what, ident in acked if what != "error"]
        assert {what for what, _ in stored} == {"screening", "incident"}, acked[:5]

        with Server(db.url, tmp_path / "server-restarted.log", port=server.port) as restarted:
            with httpx.Client(base_url=restarted.base_url, headers=headers, timeout=10) as client:
                lost = [
                    (what, ident) for what, ident in stored if client.get(f"/v1/{what}s/{ident}").status_code != 200
                ]
            assert lost == [], f"{len(lost)} of {len(stored)} acknowledged records are missing: {lost[:5]}"
            verified = restarted.cli("verify-audit")
            assert verified.returncode == 0, verified.stdout + verified.stderr
    finally:
        db.drop()
