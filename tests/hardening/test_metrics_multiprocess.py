"""/metrics sums every worker: N requests spread over two uvicorn workers count N from either.

Without prometheus_client's multiprocess mode each worker answers a scrape with its own counters,
so the total a scrape sees depends on which worker it reaches. A worker that dies keeps its
requests in the totals (uvicorn replaces it; its files stay in the directory).
"""

from __future__ import annotations

import os
import re
import signal
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.conftest import create_database, make_settings, migrate
from tests.hardening.server import Server

pytestmark = pytest.mark.slow

BATCH = 40
_HEALTHZ_COUNT = re.compile(r'^http_requests_total\{method="GET",route="/healthz",status="200"\} (\S+)$', re.M)


def _get_healthz(base_url: str) -> int:
    # A new connection per request, so the kernel hands them to both workers.
    return httpx.get(base_url + "/healthz", timeout=10).status_code


def _healthz_total(base_url: str) -> float:
    text = httpx.get(base_url + "/metrics", timeout=10).text
    match = _HEALTHZ_COUNT.search(text)
    return float(match.group(1)) if match else 0.0


def _pids_with_files(directory) -> set[str]:
    return {path.stem.rsplit("_", 1)[-1] for path in directory.glob("*.db")}


def test_request_counter_is_summed_over_workers(tmp_path):
    db = create_database("sqlite", str(tmp_path))
    migrate(make_settings(db.url))
    metrics_dir = tmp_path / "prometheus"
    metrics_dir.mkdir()  # empty, as whoever starts the workers must leave it
    server = Server(db.url, tmp_path / "server.log", workers=2, env={"PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)})
    with server:
        sent = _healthz_total(server.base_url)  # the start-up probes
        with ThreadPoolExecutor(max_workers=8) as pool:
            # Until both workers have counted something (the kernel decides who accepts).
            for _ in range(10):
                statuses = list(pool.map(_get_healthz, [server.base_url] * BATCH))
                assert statuses == [200] * BATCH
                sent += BATCH
                if len(_pids_with_files(metrics_dir)) >= 2:
                    break
        assert len(_pids_with_files(metrics_dir)) >= 2, "only one worker served; cannot tell sums apart"
        # Every scrape, whichever worker answers it, sees every request.
        totals = {_healthz_total(server.base_url) for _ in range(6)}
        assert totals == {sent}, f"{sent} requests in all, scrapes saw {sorted(totals)}"

        # A worker dies; uvicorn starts another; the dead one's requests still count.
        os.kill(int(min(_pids_with_files(metrics_dir))), signal.SIGKILL)
        deadline = time.monotonic() + 60
        while server.log_path.read_text(errors="replace").count("Application startup complete") < 3:
            assert time.monotonic() < deadline, "uvicorn did not replace the killed worker"
            time.sleep(0.2)
        with ThreadPoolExecutor(max_workers=8) as pool:
            assert list(pool.map(_get_healthz, [server.base_url] * BATCH)) == [200] * BATCH
        sent += BATCH
        totals = {_healthz_total(server.base_url) for _ in range(6)}
        assert totals == {sent}, f"after a worker died: {sent} requests in all, scrapes saw {sorted(totals)}"
