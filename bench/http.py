"""HTTP benchmark: POST /v1/screenings next to GET /healthz and a bare insert, same server, same run.

Usage:
    python -m bench.http                         # SQLite + PostgreSQL, 1 and 2 workers, c=16 and 64
    python -m bench.http --databases sqlite --workers 1 --concurrency 16 --duration 5
    python -m bench.http --seal-interval 0       # no background sealing of screenings into the audit chain

For each (database, workers) it creates a fresh database (SQLite file in a temp dir; PostgreSQL:
a fresh schema in the local test database, dropped afterwards), migrates it, starts
`uvicorn bench.app:app` on 127.0.0.1 (the service plus POST /bench/insert, a route that inserts
one screening-sized row through SQLAlchemy Core and nothing else: see bench/app.py), and drives
it from this process with a small keep-alive asyncio HTTP/1.1 client (cheaper than httpx, so the
load generator takes less of the CPU the server needs). Posts are synthetic and varied.
It prints req/s and p50/p99 latency per endpoint and concurrency, RSS per worker, checks that no
request failed, that stored screenings == number of 201s and that, after a graceful stop, every
screening is sealed into the audit chain, and checks the bars of issue 4.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from app.http_server import UVICORN_HTTP
from bench import BARE_AUTHOR, BARE_PATH, SERVER_APP

ROOT = Path(__file__).resolve().parent.parent
PG_BASE = os.environ.get("BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")

# --- synthetic posts ---------------------------------------------------------------------------

_OPENERS = [
    "Lovely walk along the canal this morning",
    "Great day volunteering at the centre today",
    "Can't believe how busy work has been this week",
    "Proud of everyone at Independence Project for the summer fair",
    "Anyone know a good plumber in Leeds",
    "Managers at the centre have no idea what they're doing with the new rota",
    "Really not happy with how my complaint was handled by the charity",
    "The keypad code for the back door is 4821 if anyone forgets",
    "Wifi password at the office is Sunflower2024, don't share it",
    "Match day! Come on you Whites",
    "Had a brilliant time with the kids at the park",
    "Some of the families who use the centre are a nightmare honestly",
    "We're hiring! Check the website for volunteer roles",
    "Staff meeting about the restructure and redundancies was grim",
]
_MIDDLES = [
    "Ring me on 07700 900{n:03d} if you want to come along.",
    "Email me at someone{n}@example.com for details.",
    "Honestly the best people I know.",
    "Weather was perfect and the coffee was even better.",
    "Not sure what to think about it all yet.",
    "Little Jack (age 6) loved the painting session.",
    "Drop me a line on 0113 496 0{n:03d}.",
    "Thanks to all the volunteers who gave up their Saturday.",
    "Let's discuss it here, everyone should have a say.",
    "",
]
_FILLER = (
    "It has been a long week and I am looking forward to a quiet weekend with family and friends. "
    "The garden needs work, the car needs washing and the dog needs a very long walk. "
)


def make_posts(count: int, seed: int = 7) -> list[dict]:
    """Return `count` varied, realistic, synthetic createScreening bodies (40 to ~700 chars)."""
    rng = random.Random(seed)
    roles = ["staff", "volunteer", "trustee", "service_user", "family_member", "unknown"]
    platforms = ["facebook", "x", "instagram", "tiktok", "linkedin"]
    posts = []
    for i in range(count):
        text_ = rng.choice(_OPENERS) + ". " + rng.choice(_MIDDLES).format(n=rng.randrange(1000))
        text_ += " " + _FILLER[: rng.choice([0, 0, 60, 150, 300])] * rng.choice([1, 1, 2])
        posts.append(
            {
                "text": text_.strip(),
                "author": {"id": f"bench-{i % 50}", "role": rng.choice(roles)},
                "platform": rng.choice(platforms),
                "context": {"account": "personal"},
            }
        )
    return posts


def bare_bodies(posts: list[dict]) -> list[dict]:
    """Return the bare insert's bodies for `posts`: each post with the engine's answer precomputed."""
    from app.policy.pack import load_pack
    from app.screening.engine import Screener
    from app.screening.service import finding_json
    from app.screening.types import ScreenContext

    screener = Screener(load_pack())
    bodies = []
    for p in posts:
        result = screener.screen(p["text"], ScreenContext(author_role=p["author"]["role"]))
        bodies.append({"post": p, "suggested_text": result.suggested_text,
                       "findings": [finding_json(f) for f in result.findings]})  # fmt: skip
    return bodies


# --- a minimal keep-alive HTTP/1.1 load generator ----------------------------------------------


@dataclass
class CellResult:
    """Outcome of driving one endpoint at one concurrency for a fixed time."""

    name: str
    concurrency: int
    elapsed: float
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    errors: int = 0

    @property
    def rps(self) -> float:
        return len(self.latencies) / self.elapsed if self.elapsed else 0.0

    def absorb(self, other: CellResult) -> None:
        """Add another run of the same endpoint and concurrency to this one."""
        self.elapsed += other.elapsed
        self.latencies.extend(other.latencies)
        self.errors += other.errors
        for status, n in other.statuses.items():
            self.statuses[status] = self.statuses.get(status, 0) + n

    def pct(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def _request_bytes(method: str, path: str, body: bytes | None, headers: dict[str, str]) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    if body is not None:
        lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + (body or b"")


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    if length:
        await reader.readexactly(length)
    return status


async def _drive(port: int, requests: list[bytes], concurrency: int, duration: float, name: str) -> CellResult:
    result = CellResult(name=name, concurrency=concurrency, elapsed=0.0)
    deadline = time.perf_counter() + duration
    counter = 0

    async def worker() -> None:
        nonlocal counter
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while time.perf_counter() < deadline:
                payload = requests[counter % len(requests)]
                counter += 1
                started = time.perf_counter()
                try:
                    writer.write(payload)
                    status = await _read_response(reader)
                except (OSError, asyncio.IncompleteReadError):
                    result.errors += 1
                    writer.close()
                    reader, writer = await asyncio.open_connection("127.0.0.1", port)
                    continue
                result.latencies.append(time.perf_counter() - started)
                result.statuses[status] = result.statuses.get(status, 0) + 1
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    result.elapsed = time.perf_counter() - started
    return result


# --- server lifecycle --------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _create_db(kind: str, tmp: str, pg_base: str = PG_BASE) -> tuple[str, Callable[[], None]]:
    if kind == "sqlite":
        return f"sqlite:///{tmp}/bench-{uuid.uuid4().hex[:8]}.db", lambda: None
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(pg_base)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))

    def drop() -> None:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()

    url = make_url(pg_base).update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False), drop


def _rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def _worker_pids(master: int, workers: int) -> list[int]:
    if workers == 1:
        return [master]
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == master:
            pids.append(int(stat.parent.name))
    # uvicorn's multiprocess supervisor may add a helper; keep the biggest `workers` children.
    return sorted(pids, key=_rss_mb, reverse=True)[:workers]


def _wait_ready(port: int, timeout: float = 60) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                if b"200" in s.recv(100):
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("server did not become ready")


def run_config(kind: str, workers: int, args: argparse.Namespace, posts: list[dict], bare: list[dict]) -> dict:
    from alembic import command

    from app.auth.tokens import create_access_token
    from app.migrations_state import alembic_config
    from app.settings import Settings

    tmp = tempfile.mkdtemp(prefix="bench-http-")
    url, drop = _create_db(kind, tmp)
    proc = None
    try:
        config = alembic_config(Settings(), database_url=url)
        config.attributes["configure_logger"] = False
        command.upgrade(config, "heads")
        port = _free_port()
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "POLICY_AUDIT_SEAL_INTERVAL_SECONDS": str(args.seal_interval),
            "POLICY_LOG_LEVEL": args.log_level,
        }
        cmd = [
            sys.executable,
            "-m",
            "uvicorn",
            SERVER_APP,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--no-access-log",
            "--log-level",
            "warning",
            "--http",
            UVICORN_HTTP,
        ]
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait_ready(port)
        token = create_access_token(Settings(), sub="bench", scopes=["screenings:write"])
        auth = {"Authorization": f"Bearer {token}"}
        screen_reqs = [_request_bytes("POST", "/v1/screenings", json.dumps(p).encode(), auth) for p in posts]
        bare_reqs = [_request_bytes("POST", BARE_PATH, json.dumps(b).encode(), {}) for b in bare]
        health_reqs = [_request_bytes("GET", "/healthz", None, {})]
        cells: list[CellResult] = []
        # Warm-up: every worker compiles nothing lazily, but connections and caches settle.
        warm = asyncio.run(_drive(port, screen_reqs, 4, 1.0, "warmup"))
        endpoints = (
            ("GET /healthz", health_reqs),
            ("POST /bench/insert (bare)", bare_reqs),
            ("POST /v1/screenings", screen_reqs),
        )
        for conc in args.concurrency:
            # Interleaved rounds: a noisy spell on the machine hits every endpoint, not just one.
            merged = {name: CellResult(name=name, concurrency=conc, elapsed=0.0) for name, _ in endpoints}
            for _ in range(args.rounds):
                for name, reqs in endpoints:
                    merged[name].absorb(asyncio.run(_drive(port, reqs, conc, args.duration / args.rounds, name)))
            cells.extend(merged.values())
        rss = [round(_rss_mb(pid), 1) for pid in _worker_pids(proc.pid, workers)]
        _stop(proc)  # graceful: each worker seals what is still pending on the way out
        proc = None
        engine = create_engine(url)
        with engine.connect() as conn:
            own = text("SELECT count(*) FROM screening WHERE author_id <> :bare")
            stored = conn.execute(own, {"bare": BARE_AUTHOR}).scalar()
            unsealed = conn.execute(text("SELECT count(*) FROM screening WHERE audit_seq IS NULL")).scalar()
            seals = conn.execute(text("SELECT count(*) FROM audit_event WHERE action = 'screenings.sealed'")).scalar()
        engine.dispose()
        return {
            "db": kind,
            "workers": workers,
            "cells": cells,
            "rss": rss,
            "stored": stored,
            "unsealed": unsealed,
            "seals": seals,
            "warm_201": warm.statuses.get(201, 0),
        }
    finally:
        if proc is not None:
            _stop(proc)
        drop()


def _stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--databases", nargs="+", default=["sqlite", "postgresql"], choices=["sqlite", "postgresql"])
    parser.add_argument("--workers", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--concurrency", nargs="+", type=int, default=[16, 64])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per endpoint and concurrency")
    parser.add_argument(
        "--rounds", type=int, default=3, help="split each duration into this many rounds, alternating the endpoints"
    )
    parser.add_argument("--posts", type=int, default=500)
    parser.add_argument(
        "--seal-interval",
        type=float,
        default=2.0,
        help="POLICY_AUDIT_SEAL_INTERVAL_SECONDS of the server (0: no background sealing)",
    )
    parser.add_argument("--log-level", default="INFO", help="POLICY_LOG_LEVEL of the server")
    args = parser.parse_args(argv)

    sys.path.insert(0, str(ROOT))
    posts = make_posts(args.posts)
    bare = bare_bodies(posts)

    ok = True
    print(
        f"posts: {len(posts)} synthetic, {min(len(p['text']) for p in posts)}-"
        f"{max(len(p['text']) for p in posts)} chars; {args.duration:g}s per cell in {args.rounds} rounds; "
        f"audit seal interval: {args.seal_interval:g}s; cpus: {os.cpu_count()}"
    )
    for kind in args.databases:
        for workers in args.workers:
            try:
                report = run_config(kind, workers, args, posts, bare)
            except Exception as exc:  # noqa: BLE001 - a missing PostgreSQL should not hide SQLite figures
                print(f"\n{kind}, {workers} worker(s): skipped ({exc.__class__.__name__}: {exc})")
                continue
            print(f"\n{kind}, {workers} worker(s)  RSS per worker (MB): {report['rss']}")
            print(f"  {'endpoint':28} {'conc':>4} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8}  statuses")
            by = {}
            created = report["warm_201"]
            for cell in report["cells"]:
                by[(cell.name, cell.concurrency)] = cell
                print(
                    f"  {cell.name:28} {cell.concurrency:>4} {cell.rps:>8.1f} {cell.pct(0.5):>8.1f} "
                    f"{cell.pct(0.99):>8.1f}  {dict(sorted(cell.statuses.items()))}"
                    + (f" errors={cell.errors}" if cell.errors else "")
                )
                expected = 200 if cell.name.startswith("GET") else 201
                if cell.errors or set(cell.statuses) - {expected}:
                    ok = False
                    print("  !! some requests failed")
                if cell.name == "POST /v1/screenings":
                    created += cell.statuses.get(201, 0)
            # 201s counted over the measured cells and the warm-up, which stores screenings too.
            match = report["stored"] == created
            ok = ok and match
            print(
                f"  stored screenings: {report['stored']}, 201 answers: {created} "
                f"({'match' if match else 'MISMATCH'}); after stop: {report['unsealed']} unsealed, "
                f"{report['seals']} seal events"
            )
            if args.seal_interval > 0 and report["unsealed"]:
                ok = False
                print("  !! screenings left unsealed after a graceful stop")
            for conc in args.concurrency:
                s, b = by[("POST /v1/screenings", conc)], by[("POST /bench/insert (bare)", conc)]
                print(f"  c={conc}: screenings/bare = {s.rps / b.rps:.2f}x")
            if kind == "sqlite" and workers == 1 and 16 in args.concurrency:
                s, b = by[("POST /v1/screenings", 16)], by[("POST /bench/insert (bare)", 16)]
                bars = {
                    "≥ 300 req/s": s.rps >= 300,
                    "p99 < 150 ms": s.pct(0.99) < 150,
                    "≥ 0.8× bare": s.rps >= 0.8 * b.rps,
                }
                print(
                    "  bars (SQLite, 1 worker, c=16): "
                    + ", ".join(f"{k} {'PASS' if v else 'FAIL'}" for k, v in bars.items())
                )
    print("\nall requests succeeded" if ok else "\nSOME REQUESTS FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
