"""Black-Scholes-Merton prices, Greeks and implied volatility against a second implementation."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from vollib.black_scholes_merton import black_scholes_merton as ref_price
from vollib.black_scholes_merton.greeks import analytical as ref

from shared.domain.optionmath import bs_greeks, bs_price, implied_vol

SPOTS = (42.0, 100.0)
MONEYNESS = (0.7, 0.95, 1.0, 1.05, 1.4)
EXPIRIES = (2 / 365, 30 / 365, 0.5, 2.0)
VOLS = (0.1, 0.25, 0.8)
RATES = ((0.0, 0.0), (0.05, 0.02), (0.1, 0.0))
GRID = list(itertools.product(SPOTS, MONEYNESS, EXPIRIES, VOLS, RATES, ("c", "p")))


def _discounted_intrinsic(s, k, t, r, q, is_call):
    sign = np.where(is_call, 1.0, -1.0)
    return np.maximum(sign * (s * np.exp(-q * t) - k * np.exp(-r * t)), 0.0)


@pytest.mark.parametrize(("s", "m", "t", "sigma", "rates", "flag"), GRID)
def test_price_and_every_greek_match_vollib(s, m, t, sigma, rates, flag):
    r, q = rates
    k = s * m
    got = bs_greeks(s, k, t, r, q, sigma, flag == "c")
    args = (flag, s, k, t, r, sigma, q)
    assert got.price == pytest.approx(ref_price(*args), abs=1e-6)
    assert bs_price(s, k, t, r, q, sigma, flag == "c") == pytest.approx(ref_price(*args), abs=1e-6)
    assert got.delta == pytest.approx(ref.delta(*args), abs=1e-6)
    assert got.gamma == pytest.approx(ref.gamma(*args), abs=1e-6)
    assert got.vega == pytest.approx(ref.vega(*args), abs=1e-6)
    assert got.theta == pytest.approx(ref.theta(*args), abs=1e-6)
    assert got.rho == pytest.approx(ref.rho(*args), abs=1e-6)


def test_hull_textbook_example_prices_call_476_and_put_081():
    # Hull, Options, Futures and Other Derivatives, example 15.6
    call, put = bs_price(42.0, 40.0, 0.5, 0.1, 0.0, 0.2, np.array([True, False]))
    assert call == pytest.approx(4.76, abs=0.005)
    assert put == pytest.approx(0.81, abs=0.005)


@pytest.mark.parametrize("q", [0.0, 0.03, 0.08])
def test_put_call_parity_holds_with_dividends(q):
    s, t, r, sigma = 100.0, 0.75, 0.05, 0.3
    k = np.linspace(60.0, 140.0, 17)
    call = bs_price(s, k, t, r, q, sigma, True)
    put = bs_price(s, k, t, r, q, sigma, False)
    np.testing.assert_allclose(call - put, s * np.exp(-q * t) - k * np.exp(-r * t), atol=1e-10)


def test_at_expiry_price_is_intrinsic_and_greeks_are_the_payoffs():
    k = np.array([90.0, 100.0, 110.0, 90.0, 110.0])
    is_call = np.array([True, True, True, False, False])
    g = bs_greeks(100.0, k, 0.0, 0.05, 0.0, 0.2, is_call)
    np.testing.assert_allclose(g.price, [10.0, 0.0, 0.0, 0.0, 10.0])
    np.testing.assert_allclose(g.delta, [1.0, 0.0, 0.0, 0.0, -1.0])
    for greek in (g.gamma, g.vega, g.theta, g.rho):
        np.testing.assert_array_equal(greek, 0.0)


def test_vectorized_call_broadcasts_scalars_against_arrays():
    k = np.array([95.0, 100.0, 105.0])
    g = bs_greeks(100.0, k, 0.25, 0.03, 0.01, 0.2, True)
    assert g.delta.shape == (3,)
    assert np.all(np.diff(g.delta) < 0)  # higher strike, lower call delta


# --- implied volatility ----------------------------------------------------------------------


def _round_trip_grid():
    m = np.linspace(0.5, 1.5, 41)
    t = np.array([1 / 365, 2 / 365, 7 / 365, 30 / 365, 0.25, 1.0, 2.0])
    sigma = np.array([0.05, 0.1, 0.2, 0.4, 0.8, 1.5])
    return np.meshgrid(m, t, sigma, [True, False], indexing="ij")


@pytest.mark.parametrize(("r", "q"), [(0.0, 0.0), (0.045, 0.013)])
def test_implied_vol_round_trips_price_over_moneyness_and_expiry_grid(r, q):
    m, t, sigma, is_call = _round_trip_grid()
    s = 100.0
    k = s * m
    price = bs_price(s, k, t, r, q, sigma, is_call)
    iv = implied_vol(price, s, k, t, r, q, is_call)
    # where the time value is below float resolution the volatility is not identifiable
    identifiable = price - _discounted_intrinsic(s, k, t, r, q, is_call) > 1e-9
    assert identifiable.mean() > 0.6  # short expiries far from the money have none
    assert not np.isnan(iv[identifiable]).any()
    repriced = bs_price(s, k, t, r, q, iv, is_call)
    np.testing.assert_allclose(repriced[identifiable], price[identifiable], rtol=0, atol=1e-9)
    # and the volatility itself wherever vega carries information
    informative = price - _discounted_intrinsic(s, k, t, r, q, is_call) > 1e-4
    np.testing.assert_allclose(iv[informative], sigma[informative], rtol=1e-6)


def test_implied_vol_matches_vollib_on_a_quote():
    price = ref_price("p", 580.0, 540.0, 45 / 365, 0.043, 0.17, 0.012)
    assert implied_vol(price, 580.0, 540.0, 45 / 365, 0.043, 0.012, False) == pytest.approx(
        0.17, abs=1e-9
    )


@pytest.mark.parametrize(
    ("price", "k", "t", "is_call", "why"),
    [
        (1.0, 40.0, 0.0, True, "expired"),
        (1.0, 40.0, -0.1, True, "negative time"),
        (1.5, 40.0, 0.5, True, "below intrinsic"),
        (0.0, 50.0, 0.5, True, "zero price"),
        (42.0, 40.0, 0.5, True, "call at the spot bound"),
        (45.0, 40.0, 0.5, True, "call above the spot bound"),
        (40.0, 40.0, 0.5, False, "put above the discounted strike"),
        (-0.5, 40.0, 0.5, False, "negative price"),
        (np.nan, 40.0, 0.5, False, "missing quote"),
    ],
)
def test_implied_vol_is_nan_when_no_volatility_fits(price, k, t, is_call, why):
    assert np.isnan(implied_vol(price, 42.0, k, t, 0.05, 0.0, is_call)), why


def test_implied_vol_accepts_scalars_and_returns_a_0d_array():
    iv = implied_vol(4.759422392871536, 42.0, 40.0, 0.5, 0.1, 0.0, True)
    assert iv.shape == ()
    assert float(iv) == pytest.approx(0.2, abs=1e-9)


def test_implied_vol_is_nan_when_max_iter_is_too_small_to_converge():
    price = bs_price(100.0, 150.0, 0.1, 0.0, 0.0, 0.6, True)
    assert np.isnan(implied_vol(price, 100.0, 150.0, 0.1, 0.0, 0.0, True, max_iter=2))
    assert implied_vol(price, 100.0, 150.0, 0.1, 0.0, 0.0, True) == pytest.approx(0.6, abs=1e-12)


def test_implied_vol_mixes_valid_and_invalid_legs_in_one_call():
    price = np.array([4.759422392871536, 0.0, 0.8085993729000929])
    iv = implied_vol(price, 42.0, 40.0, 0.5, 0.1, 0.0, np.array([True, True, False]))
    np.testing.assert_allclose(iv, [0.2, np.nan, 0.2], atol=1e-9)


@settings(max_examples=300, deadline=None)
@given(
    s=st.floats(1.0, 2000.0),
    m=st.floats(0.5, 1.5),
    t=st.floats(1 / 365, 3.0),
    sigma=st.floats(0.03, 2.0),
    r=st.floats(-0.01, 0.1),
    q=st.floats(0.0, 0.06),
    is_call=st.booleans(),
)
def test_implied_vol_inverts_price_for_any_identifiable_option(s, m, t, sigma, r, q, is_call):
    k = s * m
    price = float(bs_price(s, k, t, r, q, sigma, is_call))
    time_value = price - float(_discounted_intrinsic(s, k, t, r, q, is_call))
    iv = implied_vol(price, s, k, t, r, q, is_call)
    if time_value > 1e-9 * s:
        assert float(bs_price(s, k, t, r, q, iv, is_call)) == pytest.approx(price, abs=1e-8 * s)
    else:
        assert np.isnan(iv) or iv > 0


@settings(max_examples=200, deadline=None)
@given(
    s=st.floats(10.0, 1000.0),
    m=st.floats(0.6, 1.4),
    t=st.floats(1 / 365, 2.0),
    sigma=st.floats(0.05, 1.5),
    is_call=st.booleans(),
)
def test_price_rises_with_volatility_and_stays_within_no_arbitrage_bounds(s, m, t, sigma, is_call):
    k = s * m
    r, q = 0.04, 0.01
    low, high = bs_price(s, k, t, r, q, np.array([sigma, sigma * 1.1]), is_call)
    assert high >= low - 1e-12 * s  # equal up to rounding when no time value is left
    assert low >= _discounted_intrinsic(s, k, t, r, q, is_call) - 1e-9
    assert high <= (s * np.exp(-q * t) if is_call else k * np.exp(-r * t)) + 1e-9
