"""The window scheduler: closes notices whose 公示期 has ended, by the application's clock.

State lives only in the store (the notices read model), so a restart loses nothing: the
first sweep at startup closes every notice whose end passed while the service was down.
"""

from __future__ import annotations

import asyncio
import logging

from services.publicity.application import PublicityApplication

log = logging.getLogger(__name__)


class NoticeScheduler:
    def __init__(self, app: PublicityApplication, interval_s: float) -> None:
        self.app, self.interval_s = app, interval_s
        self.closed = 0
        self._stopping = asyncio.Event()

    async def sweep(self, batch: int = 200) -> int:
        """Close everything due now, a batch per transaction-sized step."""
        total = 0
        while closed := await asyncio.to_thread(self.app.close_due_notices, batch):
            total += len(closed)
            if len(closed) < batch:
                break
        if total:
            log.info("publicity closed %d notice(s) whose window ended", total)
        self.closed += total
        return total

    async def run(self) -> None:
        while not self._stopping.is_set():
            try:
                await self.sweep()
            except Exception:  # a store hiccup: the next sweep retries
                log.exception("publicity scheduler sweep failed; retrying")
            try:
                await asyncio.wait_for(self._stopping.wait(), self.interval_s)
            except TimeoutError:
                continue

    def stop(self) -> None:
        self._stopping.set()
