"""The simulator: a TCP server speaking the TWS protocol over the synthetic market.

``Simulator`` owns the market, the order book and the account, runs the tick loop, and fans
market changes out to the client sessions (ticks, order re-checks, expiries, scenario steps).
Use it in process::

    async with Simulator(config.sim, port=0) as sim:
        ib = IB(); await ib.connectAsync("127.0.0.1", sim.port, clientId=1)
        sim.market.jump("SPY", -0.03)

Market time: the simulator's clock starts at ``start_time`` and moves ``tick_interval_s x
time_speed`` simulated seconds per tick (``Market.step``). Clients follow it with
``reqCurrentTime`` (``IB.reqCurrentTimeAsync()``) or from the underlyings' ticks: every stock or
index tick update carries tickString 45 with the simulated unix time, which ib_async exposes as
``Ticker.lastTimestamp``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import logging
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

import pandas as pd

from services.ibsim import messages as m
from services.ibsim.account import Account, ExpiryOutcome, Position
from services.ibsim.control import start_control
from services.ibsim.dividends import assignment_eves
from services.ibsim.fills import FillModel
from services.ibsim.history import SymbolHistory, build_history
from services.ibsim.instruments import (
    NEW_YORK,
    Chain,
    Instrument,
    previous_session,
    stock,
    xnys,
)
from services.ibsim.market import IV_BETA, Market
from services.ibsim.orders import Execution, OrderBook, SimOrder
from services.ibsim.requests import ContractSpec, OrderRequest
from services.ibsim.scenario import Scenario, load_scenario, scenario_path
from services.ibsim.session import Session, UnknownContract
from shared.clock import Clock, WallClock
from shared.config import SimConfig
from shared.domain.calendar import expiry_close

log = logging.getLogger(__name__)

LONG_NAMES = {
    "SPY": "SPDR S&P 500 ETF TRUST",
    "QQQ": "INVESCO QQQ TRUST SERIES 1",
    "IWM": "ISHARES RUSSELL 2000 ETF",
    "VIX": "CBOE Volatility Index",
}


def default_start(now: dt.datetime) -> dt.datetime:
    """The next regular session's open + 1 h (10:30 New York on a normal day), as UTC."""
    cal = xnys()
    session = cal.date_to_session(pd.Timestamp(now.astimezone(NEW_YORK).date()), "next")
    start = cal.session_open(session).to_pydatetime() + dt.timedelta(hours=1)
    if start <= now:
        session = cal.next_session(session)
        start = cal.session_open(session).to_pydatetime() + dt.timedelta(hours=1)
    return start.astimezone(dt.UTC)


def parse_start(config: SimConfig, clock: Clock) -> dt.datetime:
    if config.start_time is None:
        return default_start(clock.now())
    start = dt.datetime.fromisoformat(config.start_time)
    if start.tzinfo is None:
        start = start.replace(tzinfo=NEW_YORK)  # a naive time is market time
    return start.astimezone(dt.UTC)


class Simulator:
    """An IB gateway stand-in. ``async with Simulator(cfg) as sim`` starts it on ``sim.port``."""

    def __init__(
        self,
        config: SimConfig,
        host: str = "127.0.0.1",
        port: int | None = 0,
        clock: Clock | None = None,
        nats_url: str | None = None,
        subject_prefix: str = "v6",
        nats_login: Mapping[str, Any] | None = None,
    ) -> None:
        self.config = config
        self._host = host
        self._port = config.port if port is None else port
        self._nats_url = nats_url
        self._nats_login = nats_login
        self._subject_prefix = subject_prefix
        start = parse_start(config, clock or WallClock())
        self.market = Market(config, start)
        self.account = Account(config.account, config.net_liquidation)
        self.book = OrderBook(
            self.market,
            self,
            self.resolve,
            FillModel(config),
            regular_hours_only=config.regular_hours_only,
        )
        self._start_iv = self.market.snapshot_atm_iv()
        self._start_prices = dict(config.symbols)
        self._start_session = previous_session(start.astimezone(NEW_YORK).date())
        self._histories: dict[str, SymbolHistory] = {}
        self._sessions: dict[int, Session] = {}
        self._all_sessions: set[Session] = set()
        self._scenario: Scenario | None = None
        self._server: asyncio.Server | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._control: contextlib.AsyncExitStack | None = None
        self._changing = False
        self._change_again = False
        self._settlement_count = 0
        self._assigned_through = self.market.now
        self.market.on_change(self._on_market_change)

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        if self._server is not None:
            return
        self._server = await asyncio.start_server(self._on_connect, self._host, self._port)
        self._port = self._server.sockets[0].getsockname()[1]
        self._tasks.append(asyncio.create_task(self._tick_loop(), name="ibsim-ticks"))
        if self.config.control_enabled and self._nats_url:
            self._control = await start_control(
                self, self._nats_url, self._subject_prefix, self._nats_login
            )
        if self.config.scenario:
            self.load_scenario(scenario_path(self.config.scenario))
            log.info("ibsim playing scenario %s", self.config.scenario)
        log.info("ibsim listening on %s:%s", self._host, self._port)

    async def stop(self) -> None:
        if self._server is None:
            return
        if self._control is not None:
            await self._control.aclose()
            self._control = None
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        self._server.close()
        self.disconnect_all()
        await self._server.wait_closed()
        self._server = None

    async def __aenter__(self) -> Simulator:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def serve_forever(self, stop: asyncio.Event) -> None:
        async with self:
            await stop.wait()

    @property
    def port(self) -> int:
        return self._port

    async def _tick_loop(self) -> None:
        # a tick covers the wall time that really passed, so market time keeps its speed when
        # the machine is busy (a late tick moves further; capped so a stall is not a leap)
        loop = asyncio.get_running_loop()
        nominal = self.config.tick_interval_s
        last = loop.time()
        while True:
            await asyncio.sleep(nominal)
            now = loop.time()
            elapsed, last = min(now - last, 10 * nominal), now
            try:
                self.market.step(elapsed * self.config.time_speed)
            except Exception:  # one bad tick must not stop the market
                log.exception("tick failed")

    # -- sessions --------------------------------------------------------------------------

    async def _on_connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        session = Session(self, reader, writer)
        self._all_sessions.add(session)
        await session.run()

    def register(self, client_id: int, session: Session) -> bool:
        """Bind a session to its client id; False when the id is taken (IB error 326)."""
        if client_id in self._sessions:
            return False
        self._sessions[client_id] = session
        return True

    def unregister(self, session: Session) -> None:
        self._all_sessions.discard(session)
        if session.client_id is not None and self._sessions.get(session.client_id) is session:
            del self._sessions[session.client_id]

    def disconnect_all(self) -> None:
        """Drop every client connection (clients then reconnect, as after a gateway restart)."""
        for session in list(self._all_sessions):
            session.close()
            self.unregister(session)

    # -- contracts -------------------------------------------------------------------------

    def resolve_all(self, spec: ContractSpec) -> list[Instrument]:
        """Every listed contract matching what the client gave (empty fields match anything)."""
        market = self.market
        if spec.con_id:
            inst = market.instruments.get(spec.con_id)
            ok = inst is not None and spec.sec_type in ("", inst.sec_type)
            # IB keeps no expired options: their conIds are unknown (error 200)
            if not ok or inst is None or _expired(inst, market.now):
                return []
            return [inst]
        if spec.sec_type == "IND":
            vix = market.vix_instrument
            return [vix] if spec.symbol == vix.symbol else []
        und = market.underlyings.get(spec.symbol)
        if und is None:
            return []
        if spec.sec_type in ("STK", ""):
            return [und.instrument]
        if spec.sec_type != "OPT" or und.chain is None:
            return []
        matches = [c for c in und.chain.contracts if _option_matches(c, spec)]
        return [c for c in matches if not _expired(c, market.now)]

    def resolve(self, spec: ContractSpec) -> Instrument:
        matches = self.resolve_all(spec)
        if len(matches) != 1:
            raise UnknownContract(spec)
        return matches[0]

    def describe(self, inst: Instrument) -> tuple[str, int]:
        """(longName, underlying conId) for contract details."""
        if inst.is_option:
            und = self.market.underlyings[inst.symbol].instrument
            return LONG_NAMES.get(inst.symbol, inst.symbol), und.con_id
        return LONG_NAMES.get(inst.symbol, inst.symbol), 0

    def chain(self, symbol: str) -> Chain | None:
        """The chain as listed now: expired expiries are gone from it."""
        und = self.market.underlyings.get(symbol)
        if und is None or und.chain is None:
            return None
        now = self.market.now
        live = [e for e in und.chain.expiries if expiry_close(e) > now]
        return dataclasses.replace(und.chain, expiries=live)

    def history(self, inst: Instrument) -> SymbolHistory:
        """Daily history for reqHistoricalData (VIX derives from the first symbol's IV)."""
        if inst.symbol not in self._histories:
            if inst.sec_type == "IND":
                first = next(iter(self.market.underlyings))
                self._histories[inst.symbol] = _vix_history(
                    self.history(self.market.underlyings[first].instrument),
                    IV_BETA.get(first, 1.0),
                )
            else:
                self._histories[inst.symbol] = build_history(
                    inst.symbol,
                    self.config.seed,
                    self._start_session,
                    self._start_prices[inst.symbol],
                    self._start_iv[inst.symbol],
                )
        return self._histories[inst.symbol]

    # -- orders ----------------------------------------------------------------------------

    @property
    def orders(self) -> list[SimOrder]:
        """Every order received, in arrival order (tests count them)."""
        return list(self.book.orders.values())

    def place_order(self, client_id: int, req: OrderRequest) -> SimOrder:
        return self.book.place(client_id, req)

    def reject_next_order(self, reason: str = "Rejected by the simulator") -> None:
        self.book.reject_next = reason

    def reject_next_modify(self, reason: str = "Rejected by the simulator") -> None:
        """Refuse the next modify of a working order with 201; the order works on unchanged."""
        self.book.reject_next_modify = reason

    def order_changed(self, order: SimOrder) -> None:
        session = self._sessions.get(order.client_id)
        if session is None:
            return
        session.send(m.open_order(order))
        session.send(m.order_status(order))
        if order.status == "Cancelled":
            session.send(m.error(order.order_id, 202, "Order Canceled - reason:"))

    def order_message(self, order: SimOrder, code: int, text: str) -> None:
        session = self._sessions.get(order.client_id)
        if session is not None:
            session.send(m.error(order.order_id, code, text))

    def order_filled(self, order: SimOrder, executions: list[Execution]) -> None:
        booked = [e for e in executions if not e.is_combo_summary]
        for ex in booked:
            signed = ex.shares if ex.side == "BOT" else -ex.shares
            ex.realized_pnl = self.account.apply_fill(
                ex.instrument, signed, ex.price, ex.commission
            )
        session = self._sessions.get(order.client_id)
        if session is not None:
            # as a gateway does: the executions and their commissions before the status that
            # counts them, so a client seeing "Filled" already holds the fills
            for ex in executions:
                session.send(m.exec_details(-1, order, ex, self.account.account_id))
            for ex in booked:
                session.send(m.commission_report(ex))
            session.send(m.open_order(order))
            session.send(m.order_status(order))
        self._broadcast_positions([self.account.positions[e.instrument.con_id] for e in booked])

    def positions(self) -> list[Position]:
        return self.account.open_positions()

    def _broadcast_positions(self, changed: list[Position]) -> None:
        for session in list(self._sessions.values()):
            if session.wants_positions:
                for pos in changed:
                    session.send(
                        m.position(
                            self.account.account_id, pos.instrument, pos.position, pos.avg_cost
                        )
                    )
            if session.wants_account_updates:
                session.push_account_updates()
            session.push_account_summaries()

    # -- market changes --------------------------------------------------------------------

    def _on_market_change(self) -> None:
        # scenario steps change the market from inside this handler: run again, never nest
        if self._changing:
            self._change_again = True
            return
        self._changing = True
        try:
            self._change_again = True
            while self._change_again:
                self._change_again = False
                self._apply_market_change()
        finally:
            self._changing = False

    def _apply_market_change(self) -> None:
        if self._scenario is not None:
            self._scenario.apply_due(self.market)
        self._settle_expiries()
        self._assign_early()
        self.book.expire_day_orders()
        self.book.check_all()
        for session in list(self._sessions.values()):
            session.push_all_ticks()

    def _settle_expiries(self) -> None:
        now = self.market.now
        outcomes = self.account.expire(now, self.market)
        expired_ids = {
            inst.con_id
            for order in self.book.open_orders()
            for inst in (order.instrument, *(leg.instrument for leg in order.legs))
            if _expired(inst, now)
        }
        if expired_ids:
            self.book.cancel_contracts(expired_ids)
        if outcomes:
            changed = [self.account.positions[o.option.con_id] for o in outcomes]
            for o in outcomes:
                if o.exercised:
                    stock_id = self.market.underlyings[o.option.symbol].instrument.con_id
                    changed.append(self.account.positions[stock_id])
                self._report_settlement(o, now)
            self._broadcast_positions(changed)

    def _assign_early(self) -> None:
        """On the eve of an ex-dividend date, assign short ITM calls worth less in time value
        than the dividend (their holders exercise to collect it)."""
        start, now = self._assigned_through, self.market.now
        self._assigned_through = now
        if not self.config.early_assignment or now <= start:
            return
        changed: list[Position] = []
        for symbol, dividend in self.config.dividends.items():
            if symbol not in self.market.underlyings:
                continue
            if not assignment_eves(dividend, start, now):
                continue
            spot = self.market.underlying_price(symbol)
            for pos in self.account.open_positions():
                inst = pos.instrument
                if inst.symbol != symbol or inst.right != "C" or pos.position >= 0:
                    continue
                if _expired(inst, now) or spot - inst.strike < 0.01:
                    continue
                time_value = self.market.price_of(inst) - (spot - inst.strike)
                if time_value >= dividend.amount:
                    continue
                outcome = self.account.settle(pos, exercised=True)
                self._report_settlement(outcome, now)
                changed += [
                    pos,
                    self.account.positions[self.market.underlyings[symbol].instrument.con_id],
                ]
        if changed:
            self._broadcast_positions(changed)

    def _report_settlement(self, outcome: ExpiryOutcome, now: dt.datetime) -> None:
        """Send an exercise, assignment or lapse as IB books it: executions of no API order
        (orderId 0) closing the option at 0 and, when exercised, moving the stock at the
        strike, to every client; positions and account values follow."""
        option = outcome.option
        record = SimOrder(
            client_id=0,
            order_id=0,
            perm_id=0,
            instrument=option,
            legs=[],
            action="SELL" if outcome.qty > 0 else "BUY",
            total_qty=abs(outcome.qty),
            order_type="",
            lmt_price=None,
            aux_price=None,
            tif="",
            oca_group="",
            oca_type=0,
            account=self.account.account_id,
            order_ref="",
            transmit=True,
            parent_id=0,
            spec=ContractSpec(con_id=option.con_id),
            status="Filled",
        )
        legs = [(option, -outcome.qty, 0.0)]
        if outcome.exercised:
            legs.append((stock(option.symbol), outcome.stock_delta, option.strike))
        executions = []
        for inst, signed, price in legs:
            self._settlement_count += 1
            executions.append(
                Execution(
                    exec_id=f"0000e0d5.{self._settlement_count:08x}.02.01",
                    time=now,
                    instrument=inst,
                    side="BOT" if signed > 0 else "SLD",
                    shares=abs(signed),
                    price=price,
                    cum_qty=abs(signed),
                    avg_price=price,
                )
            )
        for session in list(self._sessions.values()):
            for ex in executions:
                session.send(m.exec_details(-1, record, ex, self.account.account_id))
                session.send(m.commission_report(ex))

    def load_scenario(self, path: str | Path) -> Scenario:
        """Play a TOML scenario from now on (see ``scenario.py`` for the format)."""
        self._scenario = load_scenario(Path(path), self.market.now)
        self._on_market_change()
        return self._scenario


def _option_matches(c: Instrument, spec: ContractSpec) -> bool:
    return (
        (not spec.expiry or c.expiry.startswith(spec.expiry))
        and (not spec.strike or abs(c.strike - spec.strike) < 1e-6)
        and (not spec.right or c.right == spec.right)
        and (not spec.local_symbol or c.local_symbol == spec.local_symbol)
        and (not spec.trading_class or c.trading_class == spec.trading_class)
    )


def _expired(inst: Instrument, now: dt.datetime) -> bool:
    if not inst.is_option:
        return False
    return now >= expiry_close(dt.datetime.strptime(inst.expiry, "%Y%m%d").date())


def _vix_history(base: SymbolHistory, beta: float) -> SymbolHistory:
    level = base.iv / beta * 100.0
    return SymbolHistory(
        dates=base.dates,
        open=level,
        high=level * 1.03,
        low=level * 0.97,
        close=level,
        volume=base.volume * 0,
        iv=base.iv / beta,
        hv=base.hv,
    )
