"""Market data entry asks execution for (never IB directly): chains and daily history.

Request/reply on ``v6.rpc.chain`` and ``v6.rpc.history``; both subjects lie outside every stream.
"""

from __future__ import annotations

from typing import Protocol

import nats.errors

from shared.bus import Bus
from shared.clock import Clock
from shared.errors import Transient
from shared.events import ChainProvided, ChainRequested, HistoryProvided, HistoryRequested


class MarketDataUnavailable(Transient):
    """Execution did not answer, or answered with an error (IB down, unknown symbol)."""


class MarketGateway(Protocol):
    async def chain(
        self, symbol: str, min_dte: int, max_dte: int, strikes_around: int
    ) -> ChainProvided: ...

    async def history(self, symbol: str, what: str) -> HistoryProvided: ...


class ExecutionGateway:
    """``MarketGateway`` over the bus, answered by the execution service.

    ``timeout_s`` should exceed execution's own IB request timeouts: a chain is a snapshot of
    many option quotes under IB's pacing limit, and execution answers only after IB.
    """

    def __init__(self, bus: Bus, clock: Clock, timeout_s: float) -> None:
        self._bus = bus
        self._clock = clock
        self._timeout_s = timeout_s

    async def chain(
        self, symbol: str, min_dte: int, max_dte: int, strikes_around: int
    ) -> ChainProvided:
        request = ChainRequested(
            symbol=symbol,
            min_dte=min_dte,
            max_dte=max_dte,
            strikes_around=strikes_around,
            market_time=self._clock.now(),
        )
        reply: ChainProvided = await self._ask(
            request, self._bus.subjects.rpc_chain(), ChainProvided
        )
        return reply

    async def history(self, symbol: str, what: str) -> HistoryProvided:
        request = HistoryRequested(symbol=symbol, what=what, market_time=self._clock.now())
        reply: HistoryProvided = await self._ask(
            request, self._bus.subjects.rpc_history(), HistoryProvided
        )
        return reply

    async def _ask(
        self, request: ChainRequested | HistoryRequested, subject: str, reply_type: type
    ) -> ChainProvided | HistoryProvided:
        try:
            reply = await self._bus.request(request, subject, reply_type, timeout=self._timeout_s)
        except (nats.errors.TimeoutError, nats.errors.NoRespondersError) as exc:
            raise MarketDataUnavailable(f"{subject}: no answer for {request.symbol}") from exc
        if reply.error:
            raise MarketDataUnavailable(f"{subject}: {reply.error}")
        return reply
