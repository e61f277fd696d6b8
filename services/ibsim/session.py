"""One client connection: handshake, request dispatch, and its market-data subscriptions.

The session owns nothing of the market or the account: it asks the ``Simulator`` and writes
the answers. Requests the simulator does not serve are ignored (a debug log), like fields a
gateway does not need.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from services.ibsim import messages as m
from services.ibsim.account import Account, Position
from services.ibsim.history import HistoryRequestError, SymbolHistory, select_bars
from services.ibsim.instruments import NEW_YORK, Chain, Instrument
from services.ibsim.market import Market, Quote
from services.ibsim.orders import Leg, OrderBook, OrderRejected, SimOrder, combo_quote
from services.ibsim.protocol import (
    MIN_CLIENT_VERSION,
    SERVER_VERSION,
    Field,
    ProtocolError,
    frame,
    handshake_reply,
    read_greeting,
    read_message,
)
from services.ibsim.requests import (
    ContractSpec,
    OrderRequest,
    parse_place_order,
    parse_req_account_summary,
    parse_req_contract_details,
    parse_req_historical_data,
    parse_req_id,
    parse_req_mkt_data,
    parse_req_sec_def_opt_params,
    parse_start_api,
)

log = logging.getLogger(__name__)

FARM_MESSAGES = (
    (2104, "Market data farm connection is OK:usfarm"),
    (2106, "HMDS data farm connection is OK:ushmds"),
    (2158, "Sec-def data farm connection is OK:secdefnj"),
)


class UnknownContract(LookupError):
    """No listed contract matches the request (IB error 200)."""


@dataclass(slots=True)
class Subscription:
    """One reqMktData line and the last values sent on it (ticks go out only on change)."""

    req_id: int
    instrument: Instrument | None  # None for a BAG
    legs: list[Leg] = field(default_factory=list)
    generic_ticks: frozenset[str] = frozenset()
    sent: dict[tuple[int, int], object] = field(default_factory=dict)


class Gateway(Protocol):
    """What a session asks of the gateway it serves (the ``Simulator``, in ``server``)."""

    market: Market
    account: Account
    book: OrderBook

    def register(self, client_id: int, session: Session) -> bool: ...

    def unregister(self, session: Session) -> None: ...

    def resolve_all(self, spec: ContractSpec) -> list[Instrument]: ...

    def resolve(self, spec: ContractSpec) -> Instrument: ...

    def describe(self, inst: Instrument) -> tuple[str, int]: ...

    def chain(self, symbol: str) -> Chain | None: ...

    def history(self, inst: Instrument) -> SymbolHistory: ...

    def place_order(self, client_id: int, req: OrderRequest) -> SimOrder: ...


class Session:
    def __init__(
        self, sim: Gateway, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self._sim = sim
        self._reader = reader
        self._writer = writer
        self.client_id: int | None = None
        self.subscriptions: dict[int, Subscription] = {}
        self.wants_positions = False
        self.wants_account_updates = False
        self.account_summaries: dict[int, tuple[str, ...]] = {}
        self._handlers: dict[int, Callable[[list[str]], None]] = {
            1: self._req_mkt_data,
            2: self._cancel_mkt_data,
            3: self._place_order,
            4: self._cancel_order,
            5: self._req_open_orders,
            6: self._req_account_updates,
            7: self._req_executions,
            8: self._req_ids,
            9: self._req_contract_details,
            16: self._req_open_orders,
            20: self._req_historical_data,
            49: self._req_current_time,
            61: self._req_positions,
            62: self._req_account_summary,
            63: self._cancel_account_summary,
            64: self._cancel_positions,
            76: self._req_account_updates_multi,
            78: self._req_sec_def_opt_params,
            99: self._req_completed_orders,
        }

    # -- wire --------------------------------------------------------------------------

    def send(self, fields: list[Field]) -> None:
        if not self._writer.is_closing():
            self._writer.write(frame(fields))

    def close(self) -> None:
        self._writer.close()

    async def run(self) -> None:
        """Serve the connection until the client leaves or the simulator closes it."""
        try:
            low, high = await read_greeting(self._reader)
            if high < MIN_CLIENT_VERSION or low > SERVER_VERSION:
                raise ProtocolError(f"client versions {low}..{high} not supported")
            now = self._sim.market.now.astimezone(NEW_YORK)
            self._writer.write(handshake_reply(now.strftime("%Y%m%d %H:%M:%S EST")))
            start = await read_message(self._reader)
            if start[0] != "71":
                raise ProtocolError(f"expected startApi, got message {start[0]}")
            if not self._start(parse_start_api(start).client_id):
                return
            while True:
                fields = await read_message(self._reader)
                self._dispatch(fields)
        except (asyncio.IncompleteReadError, ConnectionError, ProtocolError) as exc:
            log.debug("session %s ended: %s", self.client_id, exc)
        finally:
            self._sim.unregister(self)
            self._writer.close()

    def _start(self, client_id: int) -> bool:
        if not self._sim.register(client_id, self):
            self.send(
                m.error(
                    -1,
                    326,
                    "Unable to connect as the client id is already in use. "
                    "Retry with a unique client id.",
                )
            )
            return False
        self.client_id = client_id
        self.send(m.next_valid_id(self._sim.book.next_order_id(client_id)))
        self.send(m.managed_accounts([self._sim.account.account_id]))
        for code, text in FARM_MESSAGES:
            self.send(m.error(-1, code, text))
        return True

    def _dispatch(self, fields: list[str]) -> None:
        handler = self._handlers.get(int(fields[0]))
        if handler is None:
            log.debug("ignored request %s", fields[:2])
            return
        handler(fields)

    def _unknown_contract(self, req_id: int) -> None:
        self.send(m.error(req_id, 200, "No security definition has been found for the request"))

    # -- contracts -----------------------------------------------------------------------

    def _req_contract_details(self, fields: list[str]) -> None:
        req = parse_req_contract_details(fields)
        matches = self._sim.resolve_all(req.contract)
        if not matches:
            self.send(
                m.error(req.req_id, 200, "No security definition has been found for the request")
            )
            return
        for inst in matches:
            self.send(m.contract_details(req.req_id, inst, *self._sim.describe(inst)))
        self.send(m.contract_details_end(req.req_id))

    def _req_sec_def_opt_params(self, fields: list[str]) -> None:
        req = parse_req_sec_def_opt_params(fields)
        chain = self._sim.chain(req.symbol)
        if chain is None:
            self.send(
                m.error(req.req_id, 200, "No security definition has been found for the request")
            )
            return
        today = self._sim.market.now.astimezone(NEW_YORK).date()
        expiries = [e.strftime("%Y%m%d") for e in chain.expiries if e >= today]
        strikes = [float(s) for s in chain.strikes]
        und = self._sim.market.underlyings[req.symbol].instrument
        self.send(m.sec_def_opt_params(req.req_id, und.con_id, req.symbol, expiries, strikes))
        self.send(m.sec_def_opt_params_end(req.req_id))

    # -- market data -----------------------------------------------------------------------

    def _req_mkt_data(self, fields: list[str]) -> None:
        req = parse_req_mkt_data(fields)
        try:
            if req.contract.sec_type == "BAG":
                legs = [
                    Leg(self._sim.resolve(ContractSpec(con_id=leg.con_id)), leg.ratio, leg.action)
                    for leg in req.contract.combo_legs
                ]
                sub = Subscription(req.req_id, None, legs)
            else:
                generic = frozenset(t.strip() for t in req.generic_ticks.split(",") if t.strip())
                sub = Subscription(
                    req.req_id, self._sim.resolve(req.contract), generic_ticks=generic
                )
        except UnknownContract:
            self.send(
                m.error(req.req_id, 200, "No security definition has been found for the request")
            )
            return
        self.send(m.market_data_type(req.req_id))
        self.send(m.tick_req_params(req.req_id))
        self.push_ticks(sub)
        if req.snapshot:
            self.send(m.tick_snapshot_end(req.req_id))
        else:
            self.subscriptions[req.req_id] = sub

    def _cancel_mkt_data(self, fields: list[str]) -> None:
        self.subscriptions.pop(parse_req_id(fields), None)

    def push_all_ticks(self) -> None:
        for sub in list(self.subscriptions.values()):
            self.push_ticks(sub)

    def push_ticks(self, sub: Subscription) -> None:
        """Send the ticks of one line whose values changed since they were last sent."""
        market = self._sim.market
        if sub.instrument is None:
            bid, ask = combo_quote(market, sub.legs)
            self._price(sub, m.BID, bid, 1)
            self._price(sub, m.ASK, ask, 1)
            self._price(sub, m.LAST, round((bid + ask) / 2, 2), 1)
            return
        q = market.quote(sub.instrument)
        if not math.isnan(q.bid):
            self._price(sub, m.BID, q.bid, q.bid_size)
            self._price(sub, m.ASK, q.ask, q.ask_size)
        self._price(sub, m.LAST, q.last, 1 if sub.instrument.is_option else 100)
        self._price(sub, m.CLOSE, q.close, 0)
        if sub.instrument.is_option:
            self._greeks(sub, q)
            return
        stamp = str(int(market.now.timestamp()))
        if sub.sent.get((46, m.LAST_TIMESTAMP)) != stamp:
            sub.sent[(46, m.LAST_TIMESTAMP)] = stamp
            self.send(m.tick_string(sub.req_id, m.LAST_TIMESTAMP, stamp))
        if sub.instrument.sec_type == "STK":
            self._volatility_ticks(sub)

    def _volatility_ticks(self, sub: Subscription) -> None:
        """Generic ticks 106 (30-day ATM implied vol) and 104 (20-day historical vol)."""
        assert sub.instrument is not None
        symbol = sub.instrument.symbol
        values = []
        if "106" in sub.generic_ticks:
            iv = float(self._sim.market.atm_iv(symbol, 30 / 365))
            values.append((m.IMPLIED_VOLATILITY, round(iv, 5)))
        if "104" in sub.generic_ticks:
            hv = float(self._sim.history(sub.instrument).hv[-1])
            values.append((m.HIST_VOLATILITY, round(hv, 5)))
        for tick_type, value in values:
            if sub.sent.get((45, tick_type)) != value:
                sub.sent[(45, tick_type)] = value
                self.send(m.tick_generic(sub.req_id, tick_type, value))

    def _price(self, sub: Subscription, tick_type: int, price: float, size: float) -> None:
        value = (price, size)
        if sub.sent.get((1, tick_type)) != value:
            sub.sent[(1, tick_type)] = value
            self.send(m.tick_price(sub.req_id, tick_type, price, size))

    def _greeks(self, sub: Subscription, q: Quote) -> None:
        common = (
            round(q.iv, 5),
            round(q.delta, 5),
            round(q.gamma, 6),
            round(q.vega, 5),
            round(q.theta, 5),
            round(q.und_price, 2),
        )
        for tick_type, price in (
            (m.BID_OPTION, q.bid),
            (m.ASK_OPTION, q.ask),
            (m.LAST_OPTION, q.last),
            (m.MODEL_OPTION, round(q.model, 4)),
        ):
            value = (*common, price)
            if sub.sent.get((21, tick_type)) == value:
                continue
            sub.sent[(21, tick_type)] = value
            iv, delta, gamma, vega, theta, und = common
            self.send(
                m.tick_option_computation(
                    sub.req_id, tick_type, iv, delta, price, gamma, vega, theta, und
                )
            )

    # -- history and time ------------------------------------------------------------------

    def _req_historical_data(self, fields: list[str]) -> None:
        req = parse_req_historical_data(fields)
        try:
            inst = self._sim.resolve(req.contract)
            if inst.sec_type not in ("STK", "IND"):
                raise HistoryRequestError(f"no history for {inst.sec_type} contracts")
            if req.bar_size.strip().lower() not in ("1 day", "1 d"):
                raise HistoryRequestError(f"bar size {req.bar_size!r} is not available")
            history = self._sim.history(inst)
            end = self._end_date(req.end)
            bars = select_bars(history, req.what_to_show, req.duration, end)
        except UnknownContract:
            self.send(
                m.error(req.req_id, 200, "No security definition has been found for the request")
            )
            return
        except HistoryRequestError as exc:
            self.send(
                m.error(req.req_id, 162, f"Historical Market Data Service error message:{exc}")
            )
            return
        start = bars[0].date.strftime("%Y%m%d") if bars else ""
        self.send(
            m.historical_data(req.req_id, f"{start} 00:00:00", f"{end:%Y%m%d} 23:59:59", bars)
        )

    def _end_date(self, end: str) -> dt.date:
        if not end.strip():
            return self._sim.market.now.astimezone(NEW_YORK).date()
        return dt.datetime.strptime(end.strip().replace("-", " ")[:8], "%Y%m%d").date()

    def _req_current_time(self, fields: list[str]) -> None:
        self.send(m.current_time(int(self._sim.market.now.timestamp())))

    # -- orders ----------------------------------------------------------------------------

    def _place_order(self, fields: list[str]) -> None:
        req = parse_place_order(fields)
        assert self.client_id is not None
        try:
            self._sim.place_order(self.client_id, req)
        except UnknownContract:
            self.send(
                m.error(req.order_id, 200, "No security definition has been found for the request")
            )
        except OrderRejected as exc:
            self._refused(req.order_id, exc)

    def _cancel_order(self, fields: list[str]) -> None:
        order_id = parse_req_id(fields)
        assert self.client_id is not None
        try:
            self._sim.book.cancel(self.client_id, order_id)
        except OrderRejected as exc:
            self._refused(order_id, exc)

    def _refused(self, order_id: int, exc: OrderRejected) -> None:
        # the error, then the state the refusal left the order in (still working, or Inactive)
        self.send(m.error(order_id, exc.code, exc.message))
        if exc.order is not None:
            self.send(m.open_order(exc.order))
            self.send(m.order_status(exc.order))

    def _req_open_orders(self, fields: list[str]) -> None:
        client = None if fields[0] == "16" or self.client_id == 0 else self.client_id
        for order in self._sim.book.open_orders(client):
            self.send(m.open_order(order))
            self.send(m.order_status(order))
        self.send(m.open_order_end())

    def _req_completed_orders(self, fields: list[str]) -> None:
        # completed orders are not replayed; their fills come back through reqExecutions
        self.send(m.completed_orders_end())

    def _req_executions(self, fields: list[str]) -> None:
        req_id = parse_req_id(fields)
        account = self._sim.account.account_id
        for order in self._sim.book.orders.values():
            if order.client_id != self.client_id and self.client_id != 0:
                continue
            for ex in order.executions:
                self.send(m.exec_details(req_id, order, ex, account))
        self.send(m.exec_details_end(req_id))
        for order in self._sim.book.orders.values():
            if order.client_id == self.client_id or self.client_id == 0:
                for ex in order.executions:
                    if not ex.is_combo_summary:
                        self.send(m.commission_report(ex))

    def _req_ids(self, fields: list[str]) -> None:
        assert self.client_id is not None
        self.send(m.next_valid_id(self._sim.book.next_order_id(self.client_id)))

    # -- account ---------------------------------------------------------------------------

    def _req_positions(self, fields: list[str]) -> None:
        self.wants_positions = True
        account = self._sim.account
        for pos in account.open_positions():
            self.send(m.position(account.account_id, pos.instrument, pos.position, pos.avg_cost))
        self.send(m.position_end())

    def _cancel_positions(self, fields: list[str]) -> None:
        self.wants_positions = False

    def _req_account_updates(self, fields: list[str]) -> None:
        self.wants_account_updates = fields[2] == "1"
        if self.wants_account_updates:
            self.push_account_updates()
            self.send(m.account_download_end(self._sim.account.account_id))

    def push_account_updates(self) -> None:
        account = self._sim.account
        market = self._sim.market
        for key, value in account.values(market).items():
            currency = "" if key == "AccountType" else "USD"
            self.send(m.update_account_value(key, value, currency, account.account_id))
        for pos in account.positions.values():
            self.push_portfolio(pos)
        self.send(m.update_account_time(market.now))

    def push_portfolio(self, pos: Position) -> None:
        account = self._sim.account
        market = self._sim.market
        price = market.price_of(pos.instrument)
        value = account.market_value(pos, market)
        self.send(
            m.update_portfolio(
                pos.instrument,
                pos.position,
                price,
                value,
                pos.avg_cost,
                round(value - pos.position * pos.avg_cost, 2),
                round(pos.realized, 2),
                account.account_id,
            )
        )

    def _req_account_summary(self, fields: list[str]) -> None:
        # a subscription, as at IB: the values are sent again whenever a fill changes them
        req = parse_req_account_summary(fields)
        self.account_summaries[req.req_id] = req.tags
        self._send_account_summary(req.req_id, req.tags)
        self.send(m.account_summary_end(req.req_id))

    def _cancel_account_summary(self, fields: list[str]) -> None:
        self.account_summaries.pop(parse_req_id(fields), None)

    def push_account_summaries(self) -> None:
        for req_id, tags in self.account_summaries.items():
            self._send_account_summary(req_id, tags)

    def _send_account_summary(self, req_id: int, tags: tuple[str, ...]) -> None:
        account = self._sim.account
        values = account.values(self._sim.market)
        wanted = tags if tags and tags != ("All",) else tuple(values)
        for tag in wanted:
            if tag in values:
                self.send(m.account_summary(req_id, account.account_id, tag, values[tag]))

    def _req_account_updates_multi(self, fields: list[str]) -> None:
        self.send(m.account_update_multi_end(parse_req_id(fields)))
