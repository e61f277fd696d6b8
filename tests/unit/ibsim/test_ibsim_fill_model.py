"""The fill model inside the spread, run on the order book in simulated time (no wall clock).

Over many seeded runs, a resting limit fills more often and with less price improvement (over
the natural) the closer it sits to the natural; a limit at the natural fills at once; no fill
is ever worse than its limit, and a combo's legs add up to its price.
"""

from __future__ import annotations

import datetime as dt
import math

import msgspec
import pytest

from services.ibsim.fills import FillModel, depth, hazard
from services.ibsim.instruments import Instrument
from services.ibsim.market import Market
from services.ibsim.orders import Execution, OrderBook, SimOrder, order_quote
from services.ibsim.requests import ComboLegSpec, ContractSpec, OrderRequest
from shared.config import SimConfig

START = dt.datetime(2026, 6, 15, 14, 30, tzinfo=dt.UTC)
SEEDS = 3
ORDERS = 150  # resting in each seeded book, each with its own draws
HORIZON_S = 60  # how long they rest, simulated seconds: two walk steps
CHECK_EVERY_S = 2  # a market change every 2 simulated seconds
DEPTHS = (0.0, 0.35, 0.7, 1.0)  # mid ... natural


class Fills:
    """An OrderListener that keeps what the book reports."""

    def __init__(self) -> None:
        self.executions: list[tuple[SimOrder, list[Execution]]] = []

    def order_changed(self, order: SimOrder) -> None:
        pass

    def order_filled(self, order: SimOrder, executions: list[Execution]) -> None:
        self.executions.append((order, executions))


def _option(market: Market, strike: float, right: str) -> Instrument:
    chain = market.underlyings["SPY"].chain
    assert chain is not None
    today = market.now.date()
    expiry = next(e for e in chain.expiries if (e - today).days >= 30).strftime("%Y%m%d")
    return next(
        c for c in chain.contracts if c.expiry == expiry and c.strike == strike and c.right == right
    )


def _condor(market: Market) -> ContractSpec:
    legs = ((560.0, "P", "SELL"), (555.0, "P", "BUY"), (600.0, "C", "SELL"), (605.0, "C", "BUY"))
    return ContractSpec(
        symbol="SPY",
        sec_type="BAG",
        combo_legs=tuple(ComboLegSpec(_option(market, k, r).con_id, 1, a) for k, r, a in legs),
    )


def _put(market: Market) -> ContractSpec:
    return ContractSpec(con_id=_option(market, 570.0, "P").con_id, sec_type="OPT")


def _request(order_id: int, contract: ContractSpec, action: str, qty: float, limit: float):
    return OrderRequest(
        order_id=order_id,
        contract=contract,
        action=action,
        total_quantity=qty,
        order_type="LMT",
        lmt_price=limit,
        aux_price=None,
        tif="GTC",
        oca_group="",
        account="DU1",
        order_ref="",
        transmit=True,
        parent_id=0,
    )


def _book(config: SimConfig, market: Market, listener: Fills) -> OrderBook:
    return OrderBook(market, listener, lambda s: market.instruments[s.con_id], FillModel(config))


def _limit_at(quote_mid: float, natural: float, buying: bool, d: float) -> float:
    """The on-tick limit at depth ``d``, rounded toward the mid (never past the natural)."""
    raw = quote_mid + d * (natural - quote_mid)
    cents = math.floor(raw * 100 + 1e-6) if buying else math.ceil(raw * 100 - 1e-6)
    return round(cents / 100, 2)


def _run(config: SimConfig, contract_of, action: str, d: float) -> tuple[float, float]:
    """(fill rate, mean improvement over the natural) of ORDERS resting limits at depth ``d``
    in each of SEEDS seeded books."""
    buying = action == "BUY"
    sign = 1 if buying else -1
    filled = 0
    improvements: list[float] = []
    for seed in range(SEEDS):
        cfg = msgspec.structs.replace(config, seed=seed)
        market = Market(cfg, START)
        listener = Fills()
        book = _book(cfg, market, listener)
        contract = contract_of(market)
        probe = book.place(1, _request(1, contract, action, 1, -999.0 * sign))  # unmarketable
        quote = order_quote(market, probe)
        book.cancel(1, 1)
        limit = _limit_at(quote.mid, quote.natural, buying, d)
        for order_id in range(2, ORDERS + 2):
            book.place(1, _request(order_id, contract, action, 1, limit))
        end = market.now + dt.timedelta(seconds=HORIZON_S)
        while market.now < end:
            market.now += dt.timedelta(seconds=CHECK_EVERY_S)  # time only: the quote holds
            book.check_all()
        for order, executions in listener.executions:
            summary = executions[-1]
            # never worse than the limit: a BUY pays at most it, a SELL gets at least it
            assert summary.price <= limit + 1e-9 if buying else summary.price >= limit - 1e-9
            if order.is_combo:
                signs = [(1 if leg.action == "BUY" else -1) * leg.ratio for leg in order.legs]
                legs = sum(s * e.price for s, e in zip(signs, executions[:-1], strict=True))
                assert legs == pytest.approx(summary.price, abs=1e-9)
            improvements.append(sign * (quote.natural - summary.price))
            filled += 1
    total = SEEDS * ORDERS
    return filled / total, (sum(improvements) / len(improvements) if improvements else math.nan)


@pytest.mark.parametrize(
    ("contract_of", "action"),
    [(_condor, "BUY"), (_put, "SELL")],
    ids=["iron condor BUY BAG (a credit, negative limit)", "single put SELL"],
)
def test_fill_rate_rises_and_improvement_falls_from_mid_to_natural(config, contract_of, action):
    results = [_run(config, contract_of, action, d) for d in DEPTHS]
    rates = [rate for rate, _ in results]
    improvements = [imp for _, imp in results]

    assert rates[0] == 0.0  # at the mid: never
    assert rates[1] < rates[2] < rates[3]
    assert rates[1] > 0 and rates[2] < 1.0
    assert rates[3] == 1.0  # at the natural: at once
    assert improvements[1] > improvements[2] > improvements[3]
    assert improvements[3] == pytest.approx(0.0)  # at the natural, at the natural


def test_a_limit_beyond_the_natural_fills_at_once_at_the_natural(config, market):
    listener = Fills()
    book = _book(config, market, listener)
    order = book.place(1, _request(1, _condor(market), "BUY", 1, 5.00))

    assert order.status == "Filled"
    assert order.avg_fill_price == order_quote(market, order).natural < 5.00


def test_fills_inside_the_spread_can_be_turned_off(config, market):
    cfg = msgspec.structs.replace(config, fill_inside_spread=False)
    listener = Fills()
    book = _book(cfg, market, listener)
    probe = book.place(1, _request(1, _put(market), "SELL", 1, 999.0))
    quote = order_quote(market, probe)
    book.place(
        1, _request(2, _put(market), "SELL", 1, _limit_at(quote.mid, quote.natural, False, 0.9))
    )
    for _ in range(200):
        market.now += dt.timedelta(seconds=30)
        book.check_all()

    assert not listener.executions


def test_partial_fills_come_in_whole_combo_units_of_any_size_up_to_the_setting(config, market):
    cfg = msgspec.structs.replace(config, partial_fill_above=3)
    listener = Fills()
    book = _book(cfg, market, listener)
    order = book.place(1, _request(1, _condor(market), "BUY", 10, 5.00))
    while order.status != "Filled":
        market.now += dt.timedelta(seconds=1)
        book.check_all()

    parts = [executions[-1].shares for _, executions in listener.executions]
    assert sum(parts) == 10 and len(parts) >= 4
    assert all(p in (1, 2, 3) for p in parts)
    assert len(set(parts)) > 1  # not fixed halves
    for _, executions in listener.executions:
        assert all(e.shares == executions[-1].shares for e in executions[:-1])  # ratio 1 legs


def test_depth_and_hazard_follow_the_documented_formula(config):
    assert depth(1.00, 1.00, 1.10, buying=True) == 0.0
    assert depth(1.05, 1.00, 1.10, buying=True) == pytest.approx(0.5)
    assert depth(0.95, 1.00, 0.90, buying=False) == pytest.approx(0.5)
    assert depth(-1.40, -1.50, -1.30, buying=True) == pytest.approx(0.5)  # a credit combo
    assert hazard(config, 0.0, 100.0) == 0.0
    at_half = config.fill_rate_per_s * 0.5**config.fill_rate_exponent
    assert hazard(config, 0.5, 0.0) == pytest.approx(at_half)
    assert hazard(config, 0.5, config.fill_rest_ramp_s) == pytest.approx(2 * at_half)
