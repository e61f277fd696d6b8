"""Whether a service's NATS connection is still one to live on.

nats-py reconnects forever, and closes for good on a protocol error the server ends the
connection with (a subject over the control-line limit, say). Either way a service would stay up
unheard: execution went on trading over IB while logging "not published: the bus is closing",
and its supervisor, seeing a live process, never restarted it. The lifeline tells the service
(``on_lost``, once) when the connection closed without being asked to, or has not come back
within ``nats.max_reconnect_s``; the service then stops with a non-zero exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from nats.aio.client import Client

log = logging.getLogger(__name__)

OnLost = Callable[[str], None]


class Lifeline:
    """The connection callbacks of one client; ``release`` before closing it on purpose."""

    def __init__(self, max_reconnect_s: float, on_lost: OnLost | None = None) -> None:
        self.max_reconnect_s = max_reconnect_s
        self.on_lost = on_lost
        self.nc: Client | None = None  # set once connected
        self.lost: str | None = None
        self._released = False
        self._deadline: asyncio.Task[None] | None = None

    def release(self) -> None:
        """The connection is about to be drained or closed on purpose: that is no loss."""
        self._released = True
        self._cancel_deadline()

    async def on_disconnected(self) -> None:
        if self._released or self.nc is None or self.nc.is_closed:
            return
        log.warning("nats disconnected")
        if self.on_lost is not None and self._deadline is None:
            self._deadline = asyncio.create_task(self._give_up_later(), name="nats-deadline")

    async def on_reconnected(self) -> None:
        self._cancel_deadline()
        server = self.nc.connected_url if self.nc is not None else None
        # host and port only: a URL may carry a user and password
        where = f"{server.hostname}:{server.port}" if server else "?"
        log.info("nats reconnected", extra={"server": where})

    async def on_closed(self) -> None:
        self._cancel_deadline()
        if not self._released:
            self._lose("the connection is closed")

    async def _give_up_later(self) -> None:
        await asyncio.sleep(self.max_reconnect_s)
        self._deadline = None
        if self._released or self.nc is None or self.nc.is_connected:
            return
        self._lose(f"not reconnected within {self.max_reconnect_s:g} s")
        self._released = True  # closed here: on_closed has nothing more to tell
        with contextlib.suppress(Exception):
            await self.nc.close()

    def _cancel_deadline(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
        self._deadline = None

    def _lose(self, reason: str) -> None:
        if self.lost is not None:
            return
        self.lost = reason
        log.error("nats connection lost for good", extra={"reason": reason})
        if self.on_lost is not None:
            self.on_lost(reason)
