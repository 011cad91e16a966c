"""Benchmark commands (DESIGN.md section 7): they print figures next to baselines from the same run."""

#: What the HTTP benchmarks serve: the service plus the bare insert (bench/app.py).
SERVER_APP = "bench.app:app"
#: The bare insert's path, and the author id its rows carry (so counts can leave them out).
BARE_PATH = "/bench/insert"
BARE_AUTHOR = "bench-bare"
