"""IB types to project types and back: small table-driven maps, nothing else crosses over."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence

from ib_async import (
    Bag,
    ComboLeg,
    Contract,
    Fill,
    LimitOrder,
    Option,
    Order,
    Position,
    Stock,
    StopOrder,
    Ticker,
    Trade,
)
from ib_async import Index as IBIndex

from services.execution.fills import Execution
from services.execution.orders import OrderSpec, ib_order_terms
from services.execution.reconcile import BrokerPosition
from services.execution.validation import ContractFacts
from shared.enums import OrderSide, Right, SecType
from shared.events import Bar, Leg, Quote

IB_RIGHT: dict[Right, str] = {Right.CALL: "C", Right.PUT: "P"}
RIGHT_FROM_IB: dict[str, Right] = {
    "C": Right.CALL,
    "CALL": Right.CALL,
    "P": Right.PUT,
    "PUT": Right.PUT,
}
IB_ACTION: dict[OrderSide, str] = {OrderSide.BUY: "BUY", OrderSide.SELL: "SELL"}
SIDE_FROM_EXEC: dict[str, OrderSide] = {"BOT": OrderSide.BUY, "SLD": OrderSide.SELL}
SEC_TYPE_FROM_IB: dict[str, SecType] = {
    "STK": SecType.STOCK,
    "IND": SecType.INDEX,
    "OPT": SecType.OPTION,
    "BAG": SecType.BAG,
}
EXCHANGE = "SMART"
CURRENCY = "USD"
INDEX_EXCHANGE = "CBOE"


def right_to_ib(right: Right) -> str:
    return IB_RIGHT[right]


def ib_expiry(expiry: dt.date) -> str:
    return expiry.strftime("%Y%m%d")


def expiry_from_ib(text: str) -> dt.date:
    return dt.datetime.strptime(text[:8], "%Y%m%d").date()


def underlying_contract(symbol: str, vix_symbol: str = "VIX") -> Contract:
    if symbol == vix_symbol:
        return IBIndex(symbol, INDEX_EXCHANGE, CURRENCY)
    return Stock(symbol, EXCHANGE, CURRENCY)


def option_contract(symbol: str, leg: Leg) -> Option:
    """The IB option of ``leg``; with its con_id when known, so no qualification is needed."""
    return Option(
        symbol,
        ib_expiry(leg.expiry),
        leg.strike,
        IB_RIGHT[leg.right],
        EXCHANGE,
        multiplier="100",
        currency=CURRENCY,
        conId=leg.con_id or 0,
    )


def order_contract(spec: OrderSpec) -> Contract:
    """One BAG of every leg (each with its own action) or the single option."""
    if not spec.combo:
        return option_contract(spec.symbol, spec.legs[0])
    return Bag(
        symbol=spec.symbol,
        exchange=EXCHANGE,
        currency=CURRENCY,
        comboLegs=[
            ComboLeg(
                conId=leg.con_id or 0,
                ratio=abs(leg.quantity),
                action="BUY" if leg.quantity > 0 else "SELL",
                exchange=EXCHANGE,
            )
            for leg in spec.legs
        ],
    )


def limit_order(spec: OrderSpec, account: str) -> Order:
    """The IB order of ``spec``: a limit, or a stop at that price (IB triggers a BUY stop when
    the price rises to it: a closing combo whose cost grew past the stop loss)."""
    side, price = ib_order_terms(spec.legs, spec.limit_price)
    if spec.stop:
        order: Order = StopOrder(IB_ACTION[side], spec.quantity, price)
    else:
        order = LimitOrder(IB_ACTION[side], spec.quantity, price)
    order.orderRef = spec.order_ref
    order.tif = "DAY"
    order.account = account
    if spec.oca_group:
        order.ocaGroup = spec.oca_group
        order.ocaType = 1  # cancel the others once one fills
    return order


def _num(value: float | None) -> float | None:
    if value is None or not math.isfinite(value) or value == -1:
        return None
    return float(value)


def _greek(value: float | None) -> float | None:
    # IB marks "not computed" Greeks with -2 (and prices/IV with -1)
    if value is None or not math.isfinite(value) or value == -2:
        return None
    return float(value)


def quote_from_ticker(ticker: Ticker, symbol: str, time: dt.datetime | None) -> Quote:
    contract = ticker.contract
    assert contract is not None
    greeks = ticker.modelGreeks
    is_option = contract.secType == "OPT"
    return Quote(
        symbol=symbol,
        sec_type=SEC_TYPE_FROM_IB.get(contract.secType, SecType.STOCK),
        con_id=contract.conId or None,
        right=RIGHT_FROM_IB.get(contract.right) if is_option else None,
        strike=contract.strike if is_option else None,
        expiry=expiry_from_ib(contract.lastTradeDateOrContractMonth) if is_option else None,
        bid=_num(ticker.bid),
        ask=_num(ticker.ask),
        last=_num(ticker.last),
        close=_num(ticker.close),
        iv=_num(greeks.impliedVol) if greeks else None,
        delta=_greek(greeks.delta) if greeks else None,
        gamma=_greek(greeks.gamma) if greeks else None,
        vega=_greek(greeks.vega) if greeks else None,
        theta=_greek(greeks.theta) if greeks else None,
        und_price=_num(greeks.undPrice) if greeks else None,
        model_price=_num(greeks.optPrice) if greeks else None,
        time=time,
    )


def bars_from_ib(bars: Sequence[object]) -> list[Bar]:
    out: list[Bar] = []
    for bar in bars:
        day = bar.date  # type: ignore[attr-defined]
        if isinstance(day, dt.datetime):
            day = day.date()
        out.append(
            Bar(
                day,
                float(bar.open),  # type: ignore[attr-defined]
                float(bar.high),  # type: ignore[attr-defined]
                float(bar.low),  # type: ignore[attr-defined]
                float(bar.close),  # type: ignore[attr-defined]
                float(bar.volume or 0.0),  # type: ignore[attr-defined]
            )
        )
    return out


def leg_of(contract: Contract, quantity: int) -> Leg:
    """The project leg of an IB option contract (e.g. a broker position)."""
    return Leg(
        right=RIGHT_FROM_IB[contract.right],
        strike=contract.strike,
        expiry=expiry_from_ib(contract.lastTradeDateOrContractMonth),
        quantity=quantity,
        con_id=contract.conId,
    )


def describe(contract: Contract) -> str:
    if contract.secType == "OPT":
        return (
            f"{contract.symbol} {contract.lastTradeDateOrContractMonth} "
            f"{contract.strike:g}{contract.right}"
        )
    return f"{contract.symbol} {contract.secType}"


class BrokerOrder:
    """One order at the broker, read in the project's terms (its IB trade stays inside)."""

    __slots__ = ("trade",)

    def __init__(self, trade: Trade) -> None:
        self.trade = trade

    @property
    def order_id(self) -> int:
        return self.trade.order.orderId

    @property
    def perm_id(self) -> int | None:
        return self.trade.order.permId or None

    @property
    def order_ref(self) -> str:
        return self.trade.order.orderRef

    @property
    def status(self) -> str:
        """IB's status string (``status_map.order_status`` reads it)."""
        return self.trade.orderStatus.status

    @property
    def filled(self) -> float:
        return self.trade.orderStatus.filled

    @property
    def remaining(self) -> float:
        return self.trade.orderStatus.remaining

    @property
    def is_done(self) -> bool:
        return self.trade.isDone()

    @property
    def history(self) -> list[tuple[str, int]]:
        """(IB status, IB error code or 0) of each entry of the order's log, oldest first."""
        return [(entry.status, entry.errorCode) for entry in self.trade.log]


def execution_from_fill(fill: Fill) -> Execution:
    ex = fill.execution
    return Execution(
        exec_id=ex.execId,
        con_id=fill.contract.conId,
        is_bag=fill.contract.secType == "BAG",
        side=SIDE_FROM_EXEC.get(ex.side, OrderSide.BUY),
        shares=float(ex.shares),
        price=float(ex.price),
        time=ex.time if ex.time else None,
        order_ref=ex.orderRef,
    )


def position_from_ib(p: Position) -> BrokerPosition:
    c = p.contract
    return BrokerPosition(
        account=p.account,
        con_id=c.conId,
        symbol=c.symbol,
        sec_type=c.secType,
        right=c.right or None,
        strike=float(c.strike) if c.strike else None,
        expiry=c.lastTradeDateOrContractMonth or None,
        position=float(p.position),
        avg_cost=float(p.avgCost),
        description=describe(c),
    )


def facts_of(contract: Contract) -> ContractFacts:
    """What a contract the broker described is, in the project's terms."""
    is_option = contract.secType == "OPT"
    return ContractFacts(
        con_id=contract.conId,
        symbol=contract.symbol,
        sec_type=contract.secType,
        right=RIGHT_FROM_IB.get(contract.right) if is_option else None,
        strike=float(contract.strike) if is_option else None,
        expiry=expiry_from_ib(contract.lastTradeDateOrContractMonth) if is_option else None,
        multiplier=int(float(contract.multiplier or 0)),
    )
