from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from chain_factory import AS_OF, TODAY, fridays, make_chain, make_quotes

from shared.domain.chain import OptionChain
from shared.enums import Right, SecType
from shared.events import ChainProvided, Leg, Quote

P, C = Right.PUT, Right.CALL
EXP = dt.date(2026, 4, 17)


def q(
    right: Right, strike: float, bid: float | None, ask: float | None, delta: float = 0.3
) -> Quote:
    return Quote(
        symbol="SPY",
        sec_type=SecType.OPTION,
        right=right,
        strike=strike,
        expiry=EXP,
        bid=bid,
        ask=ask,
        delta=delta if right is C else -delta,
    )


@pytest.fixture(scope="module")
def chain() -> OptionChain:
    return make_chain(step=5.0)


def test_chain_indexes_expiries_strikes_and_quotes(chain: OptionChain) -> None:
    assert chain.expiries == tuple(fridays(TODAY, 90))
    strikes = chain.strikes(EXP, P)
    assert np.all(np.diff(strikes) == 5.0)
    assert 580.0 in strikes
    quote = chain.quote(EXP, C, 600)
    assert quote is not None
    assert (quote.right, quote.strike, quote.expiry) == (C, 600.0, EXP)
    assert chain.is_listed(EXP, P, 580)
    assert not chain.is_listed(EXP, P, 581)


def test_underlying_quotes_are_ignored() -> None:
    und = Quote(symbol="SPY", sec_type=SecType.STOCK, bid=579.9, ask=580.1)
    chain = OptionChain("SPY", 580.0, [und, q(P, 570, 1.0, 1.1)])
    assert len(chain) == 1


def test_nearest_expiry_to_target_inside_the_window(chain: OptionChain) -> None:
    assert chain.nearest_expiry(TODAY, 45, 35, 60) == EXP  # 46 days out
    assert (chain.nearest_expiry(TODAY, 30, 20, 60, above_dte=21) - TODAY).days == 32
    assert chain.nearest_expiry(TODAY, 10, 0, 60, above_dte=21) == dt.date(2026, 3, 27)
    assert chain.nearest_expiry(TODAY, 45, 91, 120) is None


def test_nearest_expiry_tie_goes_to_the_later_expiry() -> None:
    near, far = TODAY + dt.timedelta(days=42), TODAY + dt.timedelta(days=48)
    chain = OptionChain("SPY", 580.0, [], expiries=[near, far])
    assert chain.nearest_expiry(TODAY, 45, 35, 60) == far


def test_strike_by_delta_uses_absolute_delta_for_puts(chain: OptionChain) -> None:
    strike = chain.strike_by_delta(EXP, P, 0.16)
    assert strike is not None
    quote = chain.quote(EXP, P, strike)
    assert quote is not None and quote.delta is not None
    assert abs(quote.delta) == pytest.approx(0.16, abs=0.03)
    assert strike < 580


def test_strike_by_delta_outside_the_band_finds_nothing() -> None:
    chain = OptionChain("SPY", 580.0, [q(P, 550, 1.0, 1.1, 0.05), q(P, 570, 2.0, 2.1, 0.35)])
    assert chain.strike_by_delta(EXP, P, 0.16, (0.12, 0.20)) is None
    assert chain.strike_by_delta(EXP, P, 0.16) == 550


def test_strike_at_width_snaps_to_listed_strikes_on_the_right_side(chain: OptionChain) -> None:
    assert chain.strike_at_width(EXP, P, 560, -7) == 555
    assert chain.strike_at_width(EXP, P, 560, -7.5) == 550  # tie: the wider strike
    assert chain.strike_at_width(EXP, C, 600, 2) == 605  # never the short strike itself
    assert chain.strike_at_width(EXP, C, 10_000, 5) is None


def test_combo_prices_a_credit_vertical_signed_credit_positive() -> None:
    chain = OptionChain("SPY", 580.0, [q(P, 545, 2.00, 2.10), q(P, 540, 1.40, 1.46)])
    legs = [
        Leg(right=P, strike=545, expiry=EXP, quantity=-1),
        Leg(right=P, strike=540, expiry=EXP, quantity=1),
    ]
    combo = chain.combo(legs)
    assert combo is not None
    assert combo.natural == pytest.approx(2.00 - 1.46)
    assert combo.best == pytest.approx(2.10 - 1.40)
    assert combo.mid == pytest.approx(0.62)
    assert combo.spread == pytest.approx(0.16)
    assert chain.leg_mid(legs[0]) == pytest.approx(2.05)


@pytest.mark.parametrize(("bid", "ask"), [(None, 1.0), (1.2, 1.0), (1.0, None)])
def test_combo_without_a_two_sided_market_has_no_price(
    bid: float | None, ask: float | None
) -> None:
    chain = OptionChain("SPY", 580.0, [q(C, 600, bid, ask)])
    leg = Leg(right=C, strike=600, expiry=EXP, quantity=1)
    assert chain.combo([leg]) is None
    assert chain.leg_mid(leg) is None


def test_chain_from_the_relayed_event_keeps_listed_expiries_without_quotes() -> None:
    extra = dt.date(2026, 6, 19)
    quotes = make_quotes(step=5.0, max_days=50)
    ev = ChainProvided(
        symbol="SPY",
        underlying_price=580.0,
        expiries=[extra],
        strikes=[],
        quotes=quotes,
        market_time=AS_OF,
    )
    chain = OptionChain.from_event(ev)
    assert chain.expiries[-1] == extra
    assert chain.as_of == AS_OF
    assert len(chain) == len(quotes)
