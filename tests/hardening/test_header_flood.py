"""Huge request heads against a real uvicorn server (issue 15).

Before: uvicorn's httptools parser buffered a whole 50 MB `Authorization` header before the app's
431, and eight at once took the worker from 460 MB to 1.1 GB. The bounded protocol stops reading a
head once it passes the header limit plus room for the request line, and answers 431.
"""

from __future__ import annotations

import json
import socket
import threading
from pathlib import Path

import httpx
import pytest

from app.http_server import HEAD_SLACK_BYTES
from tests.conftest import create_database, make_settings, migrate
from tests.hardening.server import Server

pytestmark = pytest.mark.slow

HEADER_LIMIT = 16_384
FIFTY_MB = 50 * 1024 * 1024


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("heads")
    db = create_database("sqlite", str(tmp))
    migrate(make_settings(db.url))
    env = {"POLICY_MAX_HEADER_BYTES": str(HEADER_LIMIT), "POLICY_AUDIT_SEAL_INTERVAL_SECONDS": "0"}
    with Server(db.url, tmp / "server.log", env=env) as running:
        yield running


def _rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def _send_head(port: int, size: int) -> tuple[bytes, int]:
    """Send a request whose Authorization header is `size` bytes; return (what came back, bytes sent)."""
    sent = 0
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"GET /v1/incidents HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ")
        chunk = b"a" * 65_536
        try:
            while sent < size:
                sock.sendall(chunk[: size - sent])
                sent += min(len(chunk), size - sent)
            sock.sendall(b"\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server stopped reading: what this test wants
        received = b""
        try:
            while data := sock.recv(65_536):
                received += data
        except (ConnectionResetError, TimeoutError):
            pass
    return received, sent


def test_a_head_just_over_the_bound_gets_a_431_problem(server):
    received, _ = _send_head(server.port, HEADER_LIMIT + HEAD_SLACK_BYTES + 1_000)
    head, _, body = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 431 ")
    assert b"content-type: application/problem+json" in head.lower()
    problem = json.loads(body)
    assert problem["status"] == 431 and problem["limit_bytes"] == HEADER_LIMIT and problem["request_id"]
    assert "a" * 100 not in body.decode()  # the header is not echoed


def test_a_header_between_the_limit_and_the_bound_still_gets_the_apps_431(server):
    r = httpx.get(f"{server.base_url}/v1/incidents", headers={"X-Padding": "a" * (HEADER_LIMIT + 10)})
    assert r.status_code == 431 and r.json()["limit_bytes"] == HEADER_LIMIT


def test_eight_fifty_megabyte_headers_are_cut_off_without_growing_the_worker(server):
    pid = server.process.pid
    assert httpx.get(f"{server.base_url}/healthz").status_code == 200
    before = _rss_bytes(pid)
    results: list[tuple[bytes, int]] = []
    threads = [threading.Thread(target=lambda: results.append(_send_head(server.port, FIFTY_MB))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    after = _rss_bytes(pid)
    assert len(results) == 8
    # Only socket buffers' worth gets through before the server closes: nowhere near 50 MB each.
    assert max(sent for _, sent in results) < 16 * 1024 * 1024
    assert after - before < 40 * 1024 * 1024, f"worker grew by {(after - before) / 1e6:.0f} MB"
    # And the server still answers ordinary requests.
    assert httpx.get(f"{server.base_url}/healthz").status_code == 200
