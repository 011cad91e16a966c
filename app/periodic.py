"""Background jobs each worker runs on a timer (sealing screenings, purging expired records)."""

from __future__ import annotations

import asyncio
import logging
from typing import ClassVar

log = logging.getLogger(__name__)


class Periodic:
    """Run `run_once` in a thread every `interval` seconds on the running event loop.

    A failed pass is logged and retried next interval, never fatal to the worker. Jobs take the
    audit head lock for their writes, so the same job in several workers only adds no-op passes.
    """

    name: ClassVar[str] = "periodic"
    #: Whether `stop` runs one last pass (so a graceful shutdown leaves nothing pending).
    run_at_stop: ClassVar[bool] = False

    def __init__(self, interval: float) -> None:
        self._interval = interval
        self._task: asyncio.Task[None] | None = None

    def run_once(self) -> None:
        """Do one pass of the job (runs in a worker thread)."""
        raise NotImplementedError

    def start(self) -> None:
        """Start the periodic task on the running event loop."""
        self._task = asyncio.get_running_loop().create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        """Cancel the periodic task, then run a final pass if the job asks for one."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self.run_at_stop:
            await self._once()

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            await self._once()

    async def _once(self) -> None:
        try:
            await asyncio.to_thread(self.run_once)
        except Exception:  # noqa: BLE001 - a failed pass is retried next interval, never fatal
            log.exception("background job failed; retrying next interval", extra={"job": self.name})
