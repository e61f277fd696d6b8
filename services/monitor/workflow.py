"""PositionMonitoringWorkflow: the monitor's logic, free of NATS and tables.

The handlers feed it events; it keeps the book and the latest quotes, values strategies and
returns the snapshots to publish. Positions it changed (fills, exits, entry IV/VIX learnt on the
first valuation) collect in ``changed`` for the handler to upsert into the positions table.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable

from services.monitor.book import Position, PositionBook
from services.monitor.ivhistory import FetchHistory, IVHistory
from services.monitor.market import LatestQuotes
from services.monitor.valuation import SnapshotContext, build_snapshot, value_book
from shared.clock import Clock
from shared.config import Config
from shared.events import (
    ExitExecuted,
    MarketDataUpdated,
    OrderDenied,
    OrderFilled,
    OrderPlaced,
    OrderRejected,
    OrderStatusChanged,
    PositionClosed,
    PositionOpened,
    PositionSnapshot,
    StrategyBuilt,
)

log = logging.getLogger(__name__)

BookEvent = PositionOpened | PositionClosed


class PositionMonitoringWorkflow:
    def __init__(
        self,
        config: Config,
        clock: Clock,
        positions: Iterable[Position] = (),
        fetch_history: FetchHistory | None = None,
        rate: float = 0.04,
        producer: str = "monitor",
    ) -> None:
        self.config = config
        self.clock = clock
        self.book = PositionBook(list(positions))
        self.market = LatestQuotes(config.universe.vix_symbol)
        self.iv_history = IVHistory(fetch_history, config.entry.iv_lookback_days)
        self.rate = rate
        self.producer = producer
        self.changed: dict[str, Position] = {}
        self._deltas: dict[str, tuple[str, float]] = {}  # strategy_id -> (symbol, delta)

    # --- intake ---------------------------------------------------------------------------

    def _touch(self, pos: Position | None) -> Position | None:
        if pos is not None:
            pos.updated_at = self.clock.now()
            self.changed[pos.strategy_id] = pos
        return pos

    def restore(self, strategy_id: str) -> None:
        """Store a position's row again as it is: the commit of its last change may have failed
        (the event that made it is then redelivered, and the book ignores it as a repeat)."""
        pos = self.book.positions.get(strategy_id)
        if pos is not None:
            self.changed[strategy_id] = pos

    def on_strategy_built(self, event: StrategyBuilt) -> None:
        self._touch(self.book.on_strategy_built(event))

    def on_order_placed(self, event: OrderPlaced) -> None:
        self._touch(self.book.on_order_placed(event))
        if event.rolled_from:
            self._touch(self.book.positions.get(event.rolled_from))

    def on_order_ended(self, event: OrderStatusChanged | OrderRejected | OrderDenied) -> None:
        self._touch(self.book.on_order_ended(event))

    def on_order_filled(self, event: OrderFilled) -> list[BookEvent]:
        """Apply a fill; returns PositionOpened/PositionClosed when it opened or closed one."""
        before = self.book.positions.get(event.strategy_id)
        was_open = before is not None and before.is_open
        pos = self._touch(self.book.on_order_filled(event, self.clock.now()))
        if pos is None:
            return []
        if pos.is_open and pos.vix_at_entry is None:
            pos.vix_at_entry = self.market.vix
        return self._book_events(pos, was_open)

    def on_exit_executed(self, event: ExitExecuted) -> list[BookEvent]:
        before = self.book.positions.get(event.strategy_id)
        was_open = before is not None and before.is_open
        pos = self._touch(self.book.on_exit_executed(event, self.clock.now()))
        return [] if pos is None else self._book_events(pos, was_open)

    def _book_events(self, pos: Position, was_open: bool) -> list[BookEvent]:
        now = self.clock.now()
        common = {"producer": self.producer, "market_time": now, "correlation_id": pos.strategy_id}
        if pos.is_open and not was_open:
            return [
                PositionOpened(
                    event_id=f"opened-{pos.strategy_id}",
                    strategy_id=pos.strategy_id,
                    symbol=pos.symbol,
                    quantity=pos.quantity,
                    **common,
                )
            ]
        if was_open and not pos.is_open:
            self._deltas.pop(pos.strategy_id, None)
            return [
                PositionClosed(
                    event_id=f"closed-{pos.strategy_id}",
                    strategy_id=pos.strategy_id,
                    symbol=pos.symbol,
                    realized_pnl=pos.realized_pnl,
                    **common,
                )
            ]
        return []

    def on_market_data(self, event: MarketDataUpdated) -> set[str]:
        """Take in quotes; returns the symbols whose strategies should be revalued."""
        return self.market.apply(event, self.clock.now())

    def symbols_affected(self, touched: set[str]) -> set[str] | None:
        """Strategy symbols to revalue for ``touched`` market symbols; None means all (VIX)."""
        if self.market.vix_symbol in touched:
            return None
        return touched

    # --- valuation ------------------------------------------------------------------------

    async def monitor_positions(self, symbols: set[str] | None = None) -> list[PositionSnapshot]:
        """Value every open strategy (of ``symbols`` when given) and return their snapshots."""
        positions = [
            p for p in self.book.open_positions() if symbols is None or p.symbol in symbols
        ]
        if not positions:
            return []
        now = self.clock.now()
        self.iv_history.request({p.symbol for p in positions}, now)
        valuation = value_book(positions, self.market, now, self.rate)
        for i, pos in enumerate(positions):
            if math.isfinite(valuation.delta[i]):
                self._deltas[pos.strategy_id] = (pos.symbol, float(valuation.delta[i]))
        symbol_delta: dict[str, float] = {}
        for symbol, delta in self._deltas.values():
            symbol_delta[symbol] = symbol_delta.get(symbol, 0.0) + delta
        ctx = SnapshotContext(
            now=now,
            market=self.market,
            iv_stats=self.iv_history.stats,
            portfolio_delta=sum(symbol_delta.values()),
            symbol_delta=symbol_delta,
            stale_after_s=self.config.monitor.stale_after_s,
            producer=self.producer,
        )
        snapshots: list[PositionSnapshot] = []
        unvalued: list[str] = []
        for i, pos in enumerate(positions):
            self._learn_entry_market(pos, float(valuation.iv[i]))
            try:
                snapshot = build_snapshot(valuation, i, ctx)
            except ValueError:  # a non-finite figure the contract refuses
                snapshot = None
            if snapshot is None:
                unvalued.append(pos.strategy_id)
            else:
                snapshots.append(snapshot)
        if unvalued:
            # no quote, no underlying price or no IV yet: nothing trustworthy to publish
            log.warning("strategies not valued", extra={"strategies": unvalued[:20]})
        return snapshots

    async def monitor_position(self, strategy_id: str) -> PositionSnapshot | None:
        """Value one strategy (the portfolio totals still cover the whole book)."""
        pos = self.book.positions.get(strategy_id)
        if pos is None or not pos.is_open:
            return None
        for snapshot in await self.monitor_positions({pos.symbol}):
            if snapshot.strategy_id == strategy_id:
                return snapshot
        return None

    def _learn_entry_market(self, pos: Position, iv: float) -> None:
        # the entry IV/VIX are the first seen after the open, kept in the table across restarts
        learnt = False
        if pos.iv_at_entry is None and math.isfinite(iv) and iv > 0:
            pos.iv_at_entry = iv
            learnt = True
        if pos.vix_at_entry is None and self.market.vix is not None:
            pos.vix_at_entry = self.market.vix
            learnt = True
        if learnt:
            self._touch(pos)

    def positions_since(self) -> list[Position]:
        """The positions changed since the last call (for the positions table)."""
        changed, self.changed = list(self.changed.values()), {}
        return changed
