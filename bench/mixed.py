"""Mixed-load benchmark: a realistic mix of routes against a real server, next to GET /healthz.

Usage:
    python -m bench.mixed                     # SQLite (or DATABASE_URL's PostgreSQL), 2 workers, 50 connections
    python -m bench.mixed --database postgresql --duration 30
    python -m bench.mixed --workers 1 --concurrency 16

It creates a fresh database (a SQLite file in a temporary folder, or a throw-away schema on the
PostgreSQL server of BENCH_POSTGRES_URL or DATABASE_URL), migrates it, starts `uvicorn
app.main:app --workers N` and drives it from this process over keep-alive connections with the
mix of issue 16: 45% `POST /v1/screenings`, 20% `POST /v1/incidents`, 20% `GET
/v1/incidents?limit=20` and 15% `GET /v1/policy`, in a fixed pseudo-random order. The measured
time is split into rounds; each round runs the mix and then `GET /healthz` alone at the same
concurrency, so a noisy spell on the machine lands on both. It prints req/s and p50/p99 per route
and for the whole mix next to /healthz, and fails (exit 1) if any request failed or the stored
screenings and incidents differ from the 201s.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import create_engine, text

from bench.http import PG_BASE, _create_db, _free_port, _read_response, _request_bytes, _stop, make_posts

ROOT = Path(__file__).resolve().parent.parent

#: The mix of issue 16, as (route label, share).
MIX = (
    ("POST /v1/screenings", 0.45),
    ("POST /v1/incidents", 0.20),
    ("GET /v1/incidents", 0.20),
    ("GET /v1/policy", 0.15),
)
HEALTHZ = "GET /healthz"
EXPECTED_STATUS = {"POST /v1/screenings": 201, "POST /v1/incidents": 201}
#: p99 bars of issue 16 for the mix with two workers.
P99_BAR_MS = {"sqlite": 1000.0, "postgresql": 250.0}


@dataclass
class Samples:
    """Latencies and statuses per route label, and the wall time they were taken in."""

    elapsed: float = 0.0
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: dict[str, dict[int, int]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(int)))
    errors: int = 0

    def count(self, label: str | None = None) -> int:
        """Requests answered, for one label or all of them."""
        if label is not None:
            return len(self.latencies.get(label, []))
        return sum(len(v) for v in self.latencies.values())

    def pct(self, q: float, label: str | None = None) -> float:
        """The q-quantile of latency in milliseconds, for one label or all of them."""
        values = self.latencies.get(label, []) if label else [x for v in self.latencies.values() for x in v]
        if not values:
            return float("nan")
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def _incident_body(i: int) -> dict:
    return {
        "subject": {"id": f"bench-subject-{i % 200}", "role": "volunteer"},
        "platform": "facebook",
        "url": f"https://facebook.com/posts/{i}",
        "posted_at": (dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)).isoformat(),
        "summary": "Derogatory comments about the centre's staff on a public page.",
    }


def build_requests(count: int, token: str, seed: int = 11) -> list[tuple[str, bytes]]:
    """A fixed pseudo-random sequence of (label, raw request) following MIX."""
    rng = random.Random(seed)
    auth = {"Authorization": f"Bearer {token}"}
    posts = make_posts(500, seed=seed)
    labels = [label for label, _ in MIX]
    weights = [weight for _, weight in MIX]
    requests = []
    for i, label in enumerate(rng.choices(labels, weights=weights, k=count)):
        if label == "POST /v1/screenings":
            raw = _request_bytes("POST", "/v1/screenings", json.dumps(posts[i % len(posts)]).encode(), auth)
        elif label == "POST /v1/incidents":
            raw = _request_bytes("POST", "/v1/incidents", json.dumps(_incident_body(i)).encode(), auth)
        elif label == "GET /v1/incidents":
            raw = _request_bytes("GET", "/v1/incidents?limit=20", None, auth)
        else:
            raw = _request_bytes("GET", "/v1/policy", None, auth)
        requests.append((label, raw))
    return requests


async def drive(port: int, requests: list[tuple[str, bytes]], concurrency: int, duration: float, into: Samples) -> None:
    """Send `requests` round-robin over `concurrency` keep-alive connections for `duration` seconds."""
    deadline = time.perf_counter() + duration
    counter = 0

    async def connection() -> None:
        nonlocal counter
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while time.perf_counter() < deadline:
                label, payload = requests[counter % len(requests)]
                counter += 1
                started = time.perf_counter()
                try:
                    writer.write(payload)
                    status = await _read_response(reader)
                except (OSError, asyncio.IncompleteReadError):
                    into.errors += 1
                    writer.close()
                    reader, writer = await asyncio.open_connection("127.0.0.1", port)
                    continue
                into.latencies[label].append(time.perf_counter() - started)
                into.statuses[label][status] += 1
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(connection() for _ in range(concurrency)))
    into.elapsed += time.perf_counter() - started


def _wait_for_workers(port: int, log: Path, workers: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if log.read_text(errors="replace").count("Application startup complete") >= workers:
            return
        time.sleep(0.2)
    raise RuntimeError(f"the server did not start in {timeout:g}s:\n{log.read_text()[-2000:]}")


def _database_kind(choice: str | None) -> str:
    if choice:
        return choice
    return "postgresql" if os.environ.get("DATABASE_URL", "").startswith("postgresql") else "sqlite"


def run(args: argparse.Namespace) -> int:
    """Start the server, run the rounds, print the table; return the exit code."""
    from alembic import command

    from app.auth.tokens import create_access_token
    from app.migrations_state import alembic_config
    from app.settings import Settings

    kind = _database_kind(args.database)
    tmp = Path(tempfile.mkdtemp(prefix="bench-mixed-"))
    database_url = os.environ.get("DATABASE_URL", "")
    url, drop = _create_db(kind, str(tmp), database_url if database_url.startswith("postgresql") else PG_BASE)
    proc = None
    try:
        config = alembic_config(Settings(), database_url=url)
        config.attributes["configure_logger"] = False
        command.upgrade(config, "heads")
        port, log = _free_port(), tmp / "server.log"
        metrics_dir = tmp / "prometheus"
        metrics_dir.mkdir()
        env = {**{k: v for k, v in os.environ.items() if not k.startswith("POLICY_")}, "DATABASE_URL": url,
               "POLICY_AUDIT_SEAL_INTERVAL_SECONDS": str(args.seal_interval), "POLICY_LOG_LEVEL": "WARNING",
               "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}  # fmt: skip
        command_line = [sys.executable, "-m", "uvicorn", "app.main:app", "--host", "127.0.0.1", "--port", str(port),
                        "--workers", str(args.workers), "--no-access-log"]  # fmt: skip
        with open(log, "wb") as log_file:
            proc = subprocess.Popen(command_line, cwd=ROOT, env=env, stdout=log_file, stderr=log_file)
        _wait_for_workers(port, log, args.workers)

        scopes = ["screenings:write", "incidents:write", "incidents:read", "policy:read"]
        token = create_access_token(Settings(), sub="bench-mixed", scopes=scopes)
        requests = build_requests(5000, token)
        health = [(HEALTHZ, _request_bytes("GET", "/healthz", None, {}))]
        warm = Samples()
        asyncio.run(drive(port, requests, min(args.concurrency, 8), 2.0, warm))
        mix, baseline = Samples(), Samples()
        for _ in range(args.rounds):
            asyncio.run(drive(port, requests, args.concurrency, args.duration / args.rounds, mix))
            asyncio.run(drive(port, health, args.concurrency, args.duration / args.rounds / 4, baseline))
        _stop(proc)
        proc = None
        engine = create_engine(url)
        with engine.connect() as connection:
            stored = {
                "POST /v1/screenings": connection.execute(text("SELECT count(*) FROM screening")).scalar_one(),
                "POST /v1/incidents": connection.execute(text("SELECT count(*) FROM incident")).scalar_one(),
            }
        engine.dispose()
        return report(kind, args, mix, baseline, warm, stored)
    finally:
        if proc is not None:
            _stop(proc)
        drop()


def report(kind: str, args: argparse.Namespace, mix: Samples, baseline: Samples, warm: Samples, stored: dict) -> int:
    """Print the table and the checks; return 0 when every request succeeded and was stored."""
    print(f"{kind}, {args.workers} worker(s), {args.concurrency} connections, {args.duration:g}s of mix "
          f"in {args.rounds} rounds (+ /healthz for a quarter of each round); cpus: {os.cpu_count()}")  # fmt: skip
    print(f"  {'route':24} {'share':>6} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8}  statuses")
    for label, _ in MIX:
        share = mix.count(label) / max(mix.count(), 1)
        print(f"  {label:24} {share:>6.0%} {mix.count(label) / mix.elapsed:>8.1f} {mix.pct(0.5, label):>8.1f} "
              f"{mix.pct(0.99, label):>8.1f}  {dict(sorted(mix.statuses[label].items()))}")  # fmt: skip
    overall = f"{mix.count() / mix.elapsed:>8.1f} {mix.pct(0.5):>8.1f} {mix.pct(0.99):>8.1f}"
    print(f"  {'mix (all routes)':24} {'':>6} {overall}")
    print(f"  {HEALTHZ + ' (baseline)':24} {'':>6} {baseline.count() / baseline.elapsed:>8.1f} "
          f"{baseline.pct(0.5):>8.1f} {baseline.pct(0.99):>8.1f}  {dict(baseline.statuses[HEALTHZ])}")  # fmt: skip
    ok = not (mix.errors or baseline.errors or warm.errors)
    for samples in (mix, baseline, warm):
        for label, statuses in samples.statuses.items():
            if set(statuses) - {EXPECTED_STATUS.get(label, 200)}:
                ok = False
                print(f"  !! {label}: unexpected statuses {dict(statuses)}")
    for label, count in stored.items():
        created = mix.statuses[label].get(201, 0) + warm.statuses[label].get(201, 0)
        match = count == created
        ok = ok and match
        print(f"  {label}: {created} answered 201, {count} stored ({'match' if match else 'MISMATCH'})")
    bar = P99_BAR_MS[kind]
    verdict = "PASS" if mix.pct(0.99) < bar else "FAIL"
    print(f"  mix p99 {mix.pct(0.99):.0f} ms against the bar of {bar:.0f} ms ({kind}, issue 16): {verdict}")
    print("all requests succeeded" if ok else "SOME REQUESTS FAILED")
    return 0 if ok else 1


def main(argv: list[str] | None = None) -> int:
    """Parse the options and run the benchmark."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default=None,
                        help="default: postgresql when DATABASE_URL names it, else sqlite")  # fmt: skip
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=50, help="keep-alive connections")
    parser.add_argument("--duration", type=float, default=16.0, help="seconds of mix in all (healthz adds a quarter)")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--seal-interval", type=float, default=2.0, help="POLICY_AUDIT_SEAL_INTERVAL_SECONDS")
    args = parser.parse_args(argv)
    return run(args)


if __name__ == "__main__":
    raise SystemExit(main())
