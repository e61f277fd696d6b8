import datetime as dt
import math

from fixtures.events import (
    CALL_DEBIT,
    NOW,
    built,
    condor_market,
    filled,
    md,
    option_quote,
    underlying,
    vix,
)

from services.monitor.book import PositionBook
from services.monitor.market import LatestQuotes, PriceHistory
from services.monitor.valuation import SnapshotContext, build_snapshot, value_book
from shared.enums import StrategyType


def _snapshot(book: PositionBook, market: LatestQuotes, now: dt.datetime = NOW):
    positions = book.open_positions()
    valuation = value_book(positions, market, now, 0.04)
    ctx = SnapshotContext(
        now=now,
        market=market,
        iv_stats=lambda _s, _iv: (50.0, 0.5),
        portfolio_delta=0.0,
        symbol_delta={},
        stale_after_s=60.0,
    )
    return build_snapshot(valuation, 0, ctx)


def _condor_book(quantity: int = 2) -> PositionBook:
    book = PositionBook()
    book.on_strategy_built(built(quantity=quantity))
    book.on_order_filled(filled(quantity=quantity, price=1.20), NOW)
    return book


def _market(*events) -> LatestQuotes:
    market = LatestQuotes()
    for event in events:
        market.apply(event, NOW)
    return market


def test_credit_condor_that_lost_value_shows_positive_upl() -> None:
    snap = _snapshot(_condor_book(), _market(condor_market(), vix()))
    # legs at 0.40/0.80/0.75/0.35: the condor is worth 0.80 against a 1.20 credit
    assert math.isclose(snap.mark, 0.80)
    assert math.isclose(snap.unrealized_pnl, 0.40 * 100 * 2)
    assert math.isclose(snap.upl_pct, 0.40 / 1.20)
    assert snap.max_profit == 240.0 and snap.max_loss == 1760.0
    assert snap.dte == 39 and not snap.stale


def test_credit_condor_that_gained_value_shows_negative_upl() -> None:
    market = _market(condor_market(mids=(0.50, 1.60, 1.40, 0.50)), vix())
    snap = _snapshot(_condor_book(), market)
    assert math.isclose(snap.upl_pct, -(2.0 - 1.20) / 1.20)


def test_debit_spread_upl_sign_follows_money_made() -> None:
    book = PositionBook()
    book.on_strategy_built(built(strategy_type=StrategyType.CALL_DEBIT_SPREAD, legs=CALL_DEBIT))
    book.on_order_filled(filled(price=-4.0, legs=CALL_DEBIT), NOW)
    quotes = [
        underlying(price=585.0),
        option_quote(CALL_DEBIT[0], 9.0),
        option_quote(CALL_DEBIT[1], 4.0),
    ]
    snap = _snapshot(book, _market(md(quotes), vix()))
    assert math.isclose(snap.mark, -5.0)
    assert math.isclose(snap.upl_pct, 0.25)  # paid 4.00, worth 5.00
    quotes = [
        underlying(price=575.0),
        option_quote(CALL_DEBIT[0], 5.0),
        option_quote(CALL_DEBIT[1], 3.0),
    ]
    snap = _snapshot(book, _market(md(quotes), vix()))
    assert math.isclose(snap.upl_pct, -0.50)


def test_greeks_are_position_totals_in_share_equivalents() -> None:
    snap = _snapshot(_condor_book(quantity=2), _market(condor_market(), vix()))
    # each leg +/-0.2 delta: long put -0.2, short put +0.2, short call -0.2, long call +0.2
    assert math.isclose(snap.delta, 0.0, abs_tol=1e-9)
    assert math.isclose(snap.theta, (-0.05 + 0.05 + 0.05 - 0.05) * 200, abs_tol=1e-9)
    assert math.isclose(snap.iv, 0.20)


def test_crossed_or_missing_quote_falls_back_to_a_model_price() -> None:
    book = _condor_book(quantity=1)
    legs = book.positions["s-1"].legs
    event = condor_market()
    quotes = [
        event.quotes[0],
        option_quote(legs[0], 0.40, bid=0.60, ask=0.20, model_price=0.41),
        *event.quotes[2:4],  # no quote for the 620 call: Black-Scholes at the condor's IV
    ]
    snap = _snapshot(book, _market(md(quotes), vix()))
    assert math.isclose(snap.legs[0].price, 0.41)
    assert 0.0 < snap.legs[3].price < 5.0
    assert snap.legs[3].delta > 0


def test_old_market_data_is_flagged_stale_during_the_session() -> None:
    market = _market(condor_market(market_time=NOW - dt.timedelta(seconds=90)), vix())
    snap = _snapshot(_condor_book(), market)
    assert snap.stale
    assert snap.as_of == NOW - dt.timedelta(seconds=90)


def test_snapshot_without_any_vix_reading_is_stale() -> None:
    snap = _snapshot(_condor_book(), _market(condor_market()))
    assert snap.stale and snap.vix == 0.0


def test_underlying_change_over_the_last_hour() -> None:
    history = PriceHistory()
    for minutes, price in ((0, 600.0), (30, 590.0), (70, 582.0), (90, 576.0)):
        history.add(NOW + dt.timedelta(minutes=minutes), price)
    # the reference is the last price at or before an hour ago (minute 30)
    assert math.isclose(history.change(NOW + dt.timedelta(minutes=90)), 576.0 / 590.0 - 1)
