"""EntryWorkflow: decide whether to open a position, and build and announce it.

``evaluate_entry_signal`` gathers one symbol's market state from what execution relays, runs the
entry signal (``shared.domain.signal``: market step, then capacity with the candidate built from
the chain), and records and publishes every evaluation on ``v6.signal.<SYMBOL>``.
``execute_entry`` turns an accepted evaluation into a pending strategy in the book and the
``strategies`` table, then publishes ``StrategyBuilt`` for execution.

Never two entries for one signal: the strategy id and the ``StrategyBuilt`` event id are pure
functions of the signal id (JetStream drops a re-published copy), and the book, rebuilt from the
table at start-up, refuses a signal it has already entered. Evaluations run one at a time, so the
timer and an operator's ``evaluate_entry`` cannot both enter on a stale view of the book.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Protocol

import msgspec

from services.entry.book import EntryBook
from services.entry.exposure import book_entry, candidate_entry, strategy_greeks
from services.entry.gateway import MarketDataUnavailable, MarketGateway
from services.entry.lifecycle import StrategyRecord
from services.entry.market import (
    IV_HISTORY,
    PRICE_HISTORY,
    HistoryCache,
    QuoteCache,
    assemble,
)
from shared.clock import Clock
from shared.config import Config
from shared.domain.builders import BuildRejected, StrategyBuilder
from shared.domain.calendar import trading_date
from shared.domain.chain import OptionChain, strikes_around
from shared.domain.risk import signal_unused
from shared.domain.signal import (
    MarketState,
    SignalEvaluation,
    evaluate_capacity,
    evaluate_market,
    signal_id,
)
from shared.domain.strategy import PositionGreeks, Strategy, derive_id, to_built_event
from shared.enums import Direction
from shared.events import Bar, ChainProvided, Check, EntrySignalEvaluated, Event, StrategyBuilt

log = logging.getLogger(__name__)

SERVICE = "entry"
NARROW_DAYS = 3  # half the first chain request's DTE window: one weekly expiry
DEFAULT_IV = 0.30  # reach of the chain when no IV history is at hand
Publish = Callable[[Event], Awaitable[Event]]


class EntryRecorder(Protocol):
    """Where evaluations and strategy changes are persisted (the service's tables)."""

    async def signal_evaluated(self, event: EntrySignalEvaluated) -> None: ...

    async def strategies_changed(self, records: Sequence[StrategyRecord]) -> None: ...


class EntryEvaluation(msgspec.Struct, frozen=True, kw_only=True):
    """One evaluation: its record, and the strategy to open when it was accepted."""

    signal: EntrySignalEvaluated
    strategy: Strategy | None = None
    delta_per_unit: float = 0.0
    gamma_per_unit: float = 0.0

    @property
    def accepted(self) -> bool:
        return self.signal.accepted and self.strategy is not None


def strategy_id_for(symbol: str, signal: str) -> str:
    """The strategy id of a signal's entry: the same on every replay and restart."""
    return f"{symbol.upper()}-{derive_id('strategy', signal)[:16]}"


def built_event_id(signal: str) -> str:
    return derive_id("strategy.built", signal)


def command_signal_id(symbol: str, command_id: str) -> str:
    """The signal id of an operator's ``evaluate_entry``: a redelivered command reuses it."""
    return f"sig-{symbol.upper()}-cmd-{derive_id(command_id, symbol)[:16]}"


def _failed(evaluation: SignalEvaluation, check: Check) -> SignalEvaluation:
    return msgspec.structs.replace(evaluation, checks=(*evaluation.checks, check))


class EntryWorkflow:
    def __init__(
        self,
        config: Config,
        clock: Clock,
        book: EntryBook,
        quotes: QuoteCache,
        gateway: MarketGateway,
        publish: Publish,
        recorder: EntryRecorder,
    ) -> None:
        self.config = config
        self.clock = clock
        self.book = book
        self.quotes = quotes
        self.gateway = gateway
        self.publish = publish
        self.recorder = recorder
        self.halted: str | None = None  # the halt reason while entries are halted
        self.builder = StrategyBuilder(
            config.builder,
            config.entry.max_position_risk_pct,
            roll_threshold_dte=config.rules.dte_roll.forced_at_dte,
        )
        self._history = HistoryCache()
        self._lock = asyncio.Lock()

    # --- the two steps of the earlier plan ------------------------------------------------

    async def evaluate_entry_signal(
        self, symbol: str, signal: str | None = None
    ) -> EntryEvaluation:
        """Evaluate, record and publish the entry signal of ``symbol`` at the clock's time.

        ``signal`` overrides the signal id (an operator command); by default it is the symbol's
        evaluation interval, so a replayed evaluation has the same id.
        """
        now = self.clock.now()
        sid = signal or signal_id(symbol, now, self.config.entry.interval_s)
        evaluation, strategy, greeks = await self._evaluate(symbol, sid, now)
        event = evaluation.to_event(producer=SERVICE)
        await self.recorder.signal_evaluated(event)
        await self.publish(event)
        log.info(
            "entry signal evaluated",
            extra={
                "symbol": symbol,
                "signal_id": sid,
                "accepted": event.accepted,
                "reasons": event.reasons,
            },
        )
        if not event.accepted or strategy is None or greeks is None:
            return EntryEvaluation(signal=event)
        return EntryEvaluation(
            signal=event,
            strategy=strategy,
            delta_per_unit=greeks.delta / strategy.quantity,
            gamma_per_unit=greeks.gamma / strategy.quantity,
        )

    async def execute_entry(self, evaluation: EntryEvaluation) -> str | None:
        """Record the accepted strategy as pending, then publish ``StrategyBuilt``; its id.

        None when the evaluation was rejected. A signal already entered is not entered again:
        its existing strategy id is returned and nothing is published.
        """
        strategy = evaluation.strategy
        if not evaluation.accepted or strategy is None:
            return None
        existing = self.book.by_signal(evaluation.signal.signal_id)
        if existing is not None:
            return existing.strategy_id
        record = StrategyRecord(
            strategy=strategy,
            delta_per_unit=evaluation.delta_per_unit,
            gamma_per_unit=evaluation.gamma_per_unit,
            updated_at=self.clock.now(),
        )
        # persisted before it is announced: a crash in between leaves a pending strategy that
        # the next start re-announces (same event id), never an order entry does not know of
        await self.recorder.strategies_changed([record])
        self.book.put(record)
        await self.announce(record)
        return strategy.strategy_id

    async def announce(self, record: StrategyRecord) -> StrategyBuilt:
        """Publish (or re-publish, de-duplicated by its event id) a strategy's StrategyBuilt."""
        strategy = record.strategy
        event = to_built_event(
            strategy,
            market_time=self.clock.now(),
            producer=SERVICE,
            bracket=self.config.builder.bracket,
        )
        event = msgspec.structs.replace(
            event, event_id=built_event_id(strategy.signal_id or strategy.strategy_id)
        )
        await self.publish(event)
        log.info(
            "strategy built",
            extra={
                "strategy_id": strategy.strategy_id,
                "symbol": strategy.symbol,
                "type": strategy.strategy_type.value,
                "quantity": strategy.quantity,
                "limit": strategy.entry_price,
            },
        )
        return event

    # --- scheduling ---------------------------------------------------------------------------

    async def enter(self, symbol: str, signal: str | None = None) -> str | None:
        """Evaluate one symbol and, when accepted, enter: the strategy id or None."""
        async with self._lock:
            evaluation = await self.evaluate_entry_signal(symbol, signal)
            return await self.execute_entry(evaluation)

    async def run_cycle(
        self, symbols: Iterable[str] | None = None, command_id: str | None = None
    ) -> list[str]:
        """Evaluate every symbol (of the universe by default); the ids of strategies entered.

        A failure on one symbol is logged and the others still run.
        """
        entered: list[str] = []
        for symbol in symbols or self.config.universe.symbols:
            signal = command_signal_id(symbol, command_id) if command_id else None
            try:
                strategy_id = await self.enter(symbol, signal)
            except Exception:
                log.exception("entry evaluation failed", extra={"symbol": symbol})
                continue
            if strategy_id:
                entered.append(strategy_id)
        return entered

    # --- evaluation ---------------------------------------------------------------------------

    async def _evaluate(
        self, symbol: str, sid: str, now: dt.datetime
    ) -> tuple[SignalEvaluation, Strategy | None, PositionGreeks | None]:
        entered = self.book.by_signal(sid)
        if entered is not None:
            # a replay: the candidate would carry the entered strategy's own id, which the
            # capacity step leaves out of its checks, so refuse it here
            used = signal_unused([book_entry(entered, self.quotes)], sid)
            return self._refused(symbol, sid, now, used), None, None
        try:
            iv_bars = await self._bars(symbol, IV_HISTORY, now)
            price_bars = await self._bars(symbol, PRICE_HISTORY, now)
            state = assemble(symbol, now, self.quotes, iv_bars, price_bars)
        except MarketDataUnavailable as exc:
            check = Check(name="market_data", passed=False, detail=str(exc))
            return self._refused(symbol, sid, now, check), None, None
        evaluation = msgspec.structs.replace(
            evaluate_market(state, self.config.entry), signal_id=sid
        )
        evaluation = _failed(evaluation, self._halt_check()) if self.halted else evaluation
        if not evaluation.accepted or evaluation.strategy_type is None:
            return evaluation, None, None
        try:
            chain = await self._chain(state)
        except MarketDataUnavailable as exc:
            return (
                _failed(evaluation, Check(name="chain", passed=False, detail=str(exc))),
                None,
                None,
            )
        options = OptionChain.from_event(chain)
        built = self.builder.build(
            evaluation.strategy_type,
            options,
            today=trading_date(now),
            strategy_id=strategy_id_for(symbol, sid),
            net_liquidation=self.config.entry.net_liquidation,
            now=now,
            signal_id=sid,
        )
        if isinstance(built, BuildRejected):
            detail = f"{built.reason}: {built.detail}" if built.detail else built.reason
            return _failed(evaluation, Check(name="build", passed=False, detail=detail)), None, None
        greeks = strategy_greeks(
            built.legs,
            built.quantity,
            lambda leg: options.quote(leg.expiry, leg.right, leg.strike),
        )
        if greeks is None:
            check = Check(
                name="greeks", passed=False, detail="a leg has no model delta in the chain"
            )
            return _failed(evaluation, check), None, None
        book = [book_entry(record, self.quotes) for record in self.book.records()]
        evaluation = evaluate_capacity(
            evaluation,
            book,
            candidate_entry(built, greeks),
            self.config.entry,
            self.config.entry.net_liquidation,
        )
        return evaluation, built, greeks

    async def _chain(self, state: MarketState) -> ChainProvided:
        """The chain the builder chooses from, asked for as narrowly as it can be.

        The builder takes the listed expiry nearest the target DTE; when one lies within a week
        around the target it is that one, so only that week is asked for first (each option is
        a snapshot under IB's pacing), and the whole [min_dte, max_dte] window only if the
        week lists none.
        """
        cfg = self.config.builder
        iv = state.iv_history[-1] if state.iv_history else DEFAULT_IV
        wing = cfg.wing_width_pct * state.underlying_price if cfg.wing_width_pct else cfg.wing_width
        around = strikes_around(state.underlying_price, iv, cfg.max_dte, wing)
        narrow = (
            max(cfg.min_dte, cfg.target_dte - NARROW_DAYS),
            min(cfg.max_dte, cfg.target_dte + NARROW_DAYS),
        )
        chain = await self.gateway.chain(state.symbol, *narrow, around)
        if chain.expiries:
            return chain
        return await self.gateway.chain(state.symbol, cfg.min_dte, cfg.max_dte, around)

    def _halt_check(self) -> Check:
        return Check(name="halted", passed=False, detail=f"entries halted: {self.halted}")

    def _refused(self, symbol: str, sid: str, now: dt.datetime, check: Check) -> SignalEvaluation:
        """An evaluation stopped before the market step, by ``check``."""
        return SignalEvaluation(
            signal_id=sid,
            symbol=symbol,
            now=now,
            direction=Direction.NONE,
            checks=(check,),
            vix=self.quotes.vix(),
            underlying_price=self.quotes.price(symbol),
        )

    async def _bars(self, symbol: str, what: str, now: dt.datetime) -> list[Bar]:
        day = trading_date(now)
        bars = self._history.get(symbol, what, day)
        if bars is None:
            bars = (await self.gateway.history(symbol, what)).bars
            self._history.put(symbol, what, day, bars)
        return bars
