"""The synthetic market: reproducible, VIX-tied IV surface with skew, spreads that widen."""

from __future__ import annotations

import datetime as dt

import msgspec
import numpy as np
import pytest

from services.ibsim.instruments import listed_expiries, strike_grid
from services.ibsim.market import Market
from shared.config import SimConfig

START = dt.datetime(2026, 6, 15, 14, 30, tzinfo=dt.UTC)  # as the conftest's market


def prices_after(config: SimConfig, steps: int) -> list[float]:
    market = Market(config, START)
    for _ in range(steps):
        market.step()
    market.advance(3600)
    return [u.price for u in market.underlyings.values()] + [market.vix]


def test_same_seed_gives_the_same_prices(config: SimConfig):
    assert prices_after(config, 200) == prices_after(config, 200)


def test_another_seed_gives_other_prices(config: SimConfig):
    other = msgspec.structs.replace(config, seed=config.seed + 1)
    assert prices_after(config, 200) != prices_after(other, 200)


def test_step_moves_time_by_tick_interval_times_speed(config: SimConfig):
    fast = msgspec.structs.replace(config, tick_interval_s=0.5, time_speed=120.0)
    market = Market(fast, START)
    market.step()
    assert market.now - START == dt.timedelta(seconds=60)


def test_pause_freezes_ticking_but_advance_still_moves_time(market: Market):
    market.pause()
    market.step()
    assert market.now == START
    market.advance(dt.timedelta(days=1))
    assert market.now == START + dt.timedelta(days=1)


def test_atm_iv_is_tied_to_vix(market: Market):
    before = float(market.atm_iv("SPY", 30 / 365))
    market.set_vix(market.vix * 2)
    assert float(market.atm_iv("SPY", 30 / 365)) == pytest.approx(2 * before, rel=0.15)


def test_term_structure_is_in_contango_at_low_vix_and_inverted_at_high_vix(market: Market):
    market.set_vix(13.0)
    assert market.atm_iv("SPY", 0.5) > market.atm_iv("SPY", 7 / 365)
    market.set_vix(40.0)
    assert market.atm_iv("SPY", 0.5) < market.atm_iv("SPY", 7 / 365)


def test_skew_makes_downside_strikes_richer(market: Market):
    strikes = np.array([520.0, 580.0, 640.0])
    iv = market.surface_iv("SPY", strikes, np.full(3, 45 / 365), 580.0)
    assert iv[0] > iv[1] > iv[2]


def test_shock_iv_scales_the_surface(market: Market):
    before = float(market.atm_iv("SPY", 0.1))
    market.shock_iv(0.25, "SPY")
    assert float(market.atm_iv("SPY", 0.1)) == pytest.approx(before * 1.25)


def test_spreads_widen_away_from_the_money(market: Market):
    chain = market.underlyings["SPY"].chain
    assert chain is not None
    quotes = market.chain_quotes("SPY")
    expiry = chain.expiry_close_ts == chain.expiry_close_ts[len(chain.contracts) // 2]
    puts = expiry & ~chain.is_call
    spread = quotes.ask - quotes.bid
    atm = puts & (chain.strike == 580.0)
    far = puts & (chain.strike == 450.0)
    assert (spread[far] / quotes.model[far])[0] > (spread[atm] / quotes.model[atm])[0]
    assert np.all(quotes.bid <= quotes.model + 1e-9)
    assert np.all(quotes.ask >= quotes.model - 1e-9)


def test_chain_lists_weeklies_and_monthlies_past_90_days():
    expiries = listed_expiries(START.date())
    days = [(e - START.date()).days for e in expiries]
    assert days[0] < 7 and days[-1] >= 90
    assert all(e.weekday() in (3, 4) for e in expiries)  # Fridays, Thursday before a holiday
    assert dt.date(2026, 7, 2) in expiries  # Friday 3 July 2026 is a holiday


def test_strike_grid_is_dollar_wide_near_the_money_and_five_wide_far():
    grid = strike_grid(580.0)
    assert {579.0, 580.0, 581.0} <= set(grid)
    assert 400.0 in grid and 401.0 not in grid
