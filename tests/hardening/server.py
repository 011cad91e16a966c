"""Run the service as a real `uvicorn` process on a free loopback port, for tests that need one."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from app.http_server import UVICORN_HTTP as HTTP_PROTOCOL
from app.settings import PROJECT_ROOT


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """One `uvicorn app.main:app` process; stderr goes to a file so a test can read the logs."""

    def __init__(
        self,
        database_url: str,
        log_path: Path,
        *,
        env: dict[str, str] | None = None,
        port: int | None = None,
        workers: int = 1,
        uvicorn_args: tuple[str, ...] = (),
    ):
        self.database_url = database_url
        self.workers = workers
        self.uvicorn_args = uvicorn_args
        self.log_path = log_path
        self.port = port or free_port()
        self.extra_env = env or {}
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        """`http://127.0.0.1:<port>`."""
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        """The environment the server (and CLI commands against the same database) run with."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("POLICY_")}
        env.update({"DATABASE_URL": self.database_url, "POLICY_LOG_LEVEL": "WARNING", **self.extra_env})
        return env

    def start(self, timeout: float = 20.0) -> Server:
        """Start the process and wait until `/healthz` answers (with several workers: all of them)."""
        log = open(self.log_path, "ab")  # noqa: SIM115 - the process owns it until stop()
        command = [sys.executable, "-m", "uvicorn", "app.main:app", "--host", "127.0.0.1", "--port", str(self.port),
                   "--http", HTTP_PROTOCOL]  # fmt: skip
        if self.workers > 1:
            command += ["--workers", str(self.workers)]
        command += self.uvicorn_args
        # Its own process group, so kill() takes the workers down with the supervisor.
        self.process = subprocess.Popen(
            command, cwd=PROJECT_ROOT, env=self.env(), stdout=log, stderr=log, start_new_session=True
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"server exited with {self.process.returncode}:\n{self.log_path.read_text()[-3000:]}"
                )
            if self._all_workers_up():
                return self
            time.sleep(0.1)
        self.kill()
        raise RuntimeError(f"server did not start in {timeout}s:\n{self.log_path.read_text()[-3000:]}")

    def _all_workers_up(self) -> bool:
        try:
            if httpx.get(self.base_url + "/healthz", timeout=1).status_code != 200:
                return False
        except httpx.HTTPError:
            return False
        # Each worker logs this once its lifespan has run (the screener is built): only then
        # does the supervisor's socket reach a worker that answers at once.
        return (
            self.workers == 1
            or self.log_path.read_text(errors="replace").count("Application startup complete") >= self.workers
        )

    def kill(self) -> None:
        """SIGKILL the whole process group (supervisor and workers): a crash or an OOM kill."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        """Graceful stop (SIGTERM), falling back to SIGKILL."""
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run `python -m app ARGS` against the same database."""
        return subprocess.run(
            [sys.executable, "-m", "app", *args],
            cwd=PROJECT_ROOT,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=60,
        )

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
