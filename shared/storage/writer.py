"""Batched writes: rows gathered in memory and committed by count or by age, not per event.

``add`` validates at once (a bad row fails in the handler that made it) and returns a future
that completes when the row's batch is committed. A consumer handler need not await it: the bus
flushes the service's writers after handling a fetched batch and before acking it, so a message
is acked only once its rows are durable. A failed commit fails the batch's futures and ``flush``
raises, so the bus naks instead of acking. A failed commit on the timer fails the next flush
too: its rows came from messages the bus has not acked yet, and it must not.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable, Mapping

from shared.errors import Transient
from shared.storage.rows import Row, check_rows
from shared.storage.table import Mode, Table

log = logging.getLogger(__name__)


def _retrieve(fut: asyncio.Future[None]) -> None:
    # nobody may await a fire-and-forget row; the failure is logged by flush
    if not fut.cancelled():
        fut.exception()


class BatchWriter:
    """Commits rows to one table in batches of at most ``max_rows`` or ``max_seconds`` old.

    ``mode`` defaults to the table's declared ``writes``.
    """

    def __init__(
        self, table: Table, max_rows: int, max_seconds: float, mode: Mode | None = None
    ) -> None:
        self.table = table
        self.max_rows = max_rows
        self.max_seconds = max_seconds
        spec = table.spec
        self.mode: Mode = mode or spec.writes or ("insert_new" if spec.key else "append")
        self.commits = 0
        self._rows: list[Row] = []
        self._futures: list[asyncio.Future[None]] = []
        self._pending = asyncio.Event()
        self._full = asyncio.Event()
        self._flush_lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._lost: Exception | None = None  # a timed commit that failed, not yet reported

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"writer-{self.table.name}")

    def add(self, rows: Row | Iterable[Row]) -> asyncio.Future[None]:
        """Queue one row or many; the future completes when they are committed."""
        batch = [rows] if isinstance(rows, Mapping) else list(rows)
        check_rows(self.table.name, self.table.spec.schema, batch)
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        fut.add_done_callback(_retrieve)
        self._rows.extend(batch)
        self._futures.append(fut)
        self._pending.set()
        if len(self._rows) >= self.max_rows:
            self._full.set()
        return fut

    async def _run(self) -> None:
        while not self._closing:
            await self._pending.wait()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._full.wait(), self.max_seconds)
            with contextlib.suppress(Exception):  # logged by _flush; the timer carries on
                await self._flush(timed=True)

    async def flush(self) -> None:
        """Commit everything queued so far; raises if the commit fails (those rows are lost), or
        if a timed commit failed since the last flush."""
        try:
            await self._flush(timed=False)
        finally:
            lost, self._lost = self._lost, None
        if lost is not None:
            raise Transient(f"a batch of {self.table.name} failed to commit") from lost

    async def _flush(self, *, timed: bool) -> None:
        async with self._flush_lock:
            rows, futures = self._rows, self._futures
            self._rows, self._futures = [], []
            self._pending.clear()
            self._full.clear()
            if not rows:
                return
            try:
                await self._write(rows)
            except Exception as exc:
                log.exception(
                    "batch commit failed", extra={"table": self.table.name, "rows": len(rows)}
                )
                for fut in futures:
                    if not fut.done():
                        fut.set_exception(exc)
                if timed:
                    # its rows came from messages not acked yet: the flush the bus makes before
                    # acking them must fail too
                    self._lost = exc
                raise
            self.commits += 1
            for fut in futures:
                if not fut.done():
                    fut.set_result(None)

    async def _write(self, rows: list[Row]) -> None:
        if self.mode == "append":
            await self.table.append(rows)
        elif self.mode == "upsert":
            await self.table.upsert(rows)
        else:
            await self.table.insert_new(rows)

    async def close(self) -> None:
        """Stop the timer and commit what is left (never cancels a commit in progress)."""
        self._closing = True
        self._pending.set()
        self._full.set()
        if self._task is not None:
            await self._task
            self._task = None
        self._lost = None  # intake has stopped: what it failed is unacked and comes back
        await self.flush()
