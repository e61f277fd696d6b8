"""What execution relays to entry, answered from the IB simulator's own market model; and a
wait on entry's strategies table.

Used where the execution service is not part of the test: a real NATS bus, the simulator's
``Market`` (GBM underlyings, VIX-tied IV surface, listed chains) and its seeded ``build_history``
supply ``v6.md.*`` quotes, ``v6.rpc.chain`` and ``v6.rpc.history`` exactly in the contract's
shapes; order and exit events are published by the test itself.
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Any

from fixtures.market import START, make_neutral
from fixtures.tables import wait_rows

from services.entry.tables import STRATEGIES
from services.ibsim.history import SymbolHistory, build_history, select_bars
from services.ibsim.instruments import NEW_YORK
from services.ibsim.market import Market
from shared.bus import Bus
from shared.config import SimConfig
from shared.enums import Right, SecType
from shared.events import (
    Bar,
    ChainProvided,
    ChainRequested,
    HistoryProvided,
    HistoryRequested,
    MarketDataUpdated,
    Quote,
)


async def wait_status(
    data_root: Path, strategy_id: str, status: str, timeout: float = 10.0
) -> dict[str, Any]:
    """The strategy's row once the strategies table shows it in ``status``."""
    rows = await wait_rows(
        data_root,
        "entry",
        STRATEGIES,
        lambda r: r["strategy_id"] == strategy_id and r["status"] == status,
        timeout=timeout,
    )
    return rows[0]


def _num(x: float) -> float | None:
    return None if math.isnan(x) else float(x)


class MarketDesk:
    """Execution's market-data side, for entry tests; counts the requests it answers."""

    def __init__(self, sim: SimConfig | None = None, start: dt.datetime = START) -> None:
        self.sim = sim or SimConfig(symbols={"SPY": 580.0})
        self.market = Market(self.sim, start)
        today = start.astimezone(NEW_YORK).date()
        atm = self.market.snapshot_atm_iv()
        self.histories: dict[str, SymbolHistory] = {
            symbol: build_history(symbol, self.sim.seed, today, price, atm[symbol])
            for symbol, price in self.sim.symbols.items()
        }
        self.chain_requests = 0
        self.history_requests = 0

    def make_neutral(self, symbol: str) -> None:
        make_neutral(self.market, self.histories[symbol], symbol)

    async def serve(self, bus: Bus) -> None:
        await bus.serve(bus.subjects.rpc_chain(), self._chain, ChainRequested)
        await bus.serve(bus.subjects.rpc_history(), self._history, HistoryRequested)

    async def publish_quotes(self, bus: Bus) -> None:
        """The underlyings and VIX as execution relays them, stamped with market time."""
        now = self.market.now
        for symbol, und in self.market.underlyings.items():
            q = self.market.quote(und.instrument)
            quote = Quote(
                symbol=symbol, sec_type=SecType.STOCK, bid=q.bid, ask=q.ask, last=q.last, time=now
            )
            await bus.publish(MarketDataUpdated(symbol=symbol, quotes=[quote], market_time=now))
        vix = self.market.quote(self.market.vix_instrument)
        quote = Quote(
            symbol="VIX", sec_type=SecType.INDEX, last=vix.last, close=vix.close, time=now
        )
        await bus.publish(MarketDataUpdated(symbol="VIX", quotes=[quote], market_time=now))
        await bus.nc.flush()

    def chain(self, symbol: str, min_dte: int, max_dte: int) -> ChainProvided:
        und = self.market.underlyings[symbol]
        chain = und.chain
        assert chain is not None
        q = self.market.chain_quotes(symbol)
        today = self.market.now.astimezone(NEW_YORK).date()
        expiries = [e for e in chain.expiries if min_dte <= (e - today).days <= max_dte]
        quotes = []
        for i, contract in enumerate(chain.contracts):
            expiry = dt.datetime.strptime(contract.expiry, "%Y%m%d").date()
            if expiry not in expiries or abs(contract.strike / und.price - 1) > 0.15:
                continue
            quotes.append(
                Quote(
                    symbol=symbol,
                    sec_type=SecType.OPTION,
                    con_id=contract.con_id,
                    right=Right(contract.right),
                    strike=contract.strike,
                    expiry=expiry,
                    bid=float(q.bid[i]),
                    ask=float(q.ask[i]),
                    iv=_num(q.iv[i]),
                    delta=_num(q.delta[i]),
                    gamma=_num(q.gamma[i]),
                    vega=_num(q.vega[i]),
                    theta=_num(q.theta[i]),
                    und_price=und.price,
                    model_price=_num(q.model[i]),
                    time=self.market.now,
                )
            )
        return ChainProvided(
            symbol=symbol,
            underlying_price=und.price,
            expiries=expiries,
            strikes=sorted({quote.strike for quote in quotes if quote.strike}),
            quotes=quotes,
            market_time=self.market.now,
        )

    async def _chain(self, request: ChainRequested) -> ChainProvided:
        self.chain_requests += 1
        return self.chain(request.symbol, request.min_dte, request.max_dte)

    async def _history(self, request: HistoryRequested) -> HistoryProvided:
        self.history_requests += 1
        today = self.market.now.astimezone(NEW_YORK).date()
        bars = select_bars(self.histories[request.symbol], request.what, request.duration, today)
        return HistoryProvided(
            symbol=request.symbol,
            what=request.what,
            bars=[Bar(b.date, b.open, b.high, b.low, b.close, float(b.volume)) for b in bars],
            market_time=self.market.now,
        )
