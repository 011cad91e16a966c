"""Background jobs each worker runs on a timer (sealing screenings, purging expired records)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import ClassVar

from sqlalchemy import Engine
from sqlmodel import Session

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


def drain(engine: Engine, one_batch: Callable[[Session, int], int], batch_size: int) -> int:
    """Run `one_batch(session, batch_size)` in one short transaction after another until a batch comes up short.

    Returns the rows handled in all.
    """
    total = 0
    while True:
        with Session(engine) as session:
            handled = one_batch(session, batch_size)
            session.commit()
        total += handled
        if handled < batch_size:
            return total


class BatchSealer(Periodic):
    """Seal one kind of pending rows into the audit chain every `interval` seconds (`seal_all`).

    Every worker runs one per kind; they take turns on the audit head lock, so extra workers only
    add no-op checks. A final pass at shutdown leaves nothing pending after a graceful stop.
    """

    run_at_stop = True

    def __init__(self, engine: Engine, interval: float) -> None:
        super().__init__(interval)
        self._engine = engine

    def seal_all(self, engine: Engine) -> int:
        """Seal everything pending of this kind; return how many rows were handled."""
        raise NotImplementedError

    def run_once(self) -> None:
        """Seal everything pending."""
        sealed = self.seal_all(self._engine)
        if sealed:
            log.debug("sealed pending rows", extra={"job": self.name, "count": sealed})
