"""The market clock follows event times, jumps with them, and never runs backwards."""

import datetime as dt
import time

import pytest

from shared.clock import MarketClock

T0 = dt.datetime(2026, 11, 24, 15, 45, tzinfo=dt.UTC)


def test_market_clock_is_the_wall_clock_until_it_sees_market_time():
    before = dt.datetime.now(dt.UTC)
    assert MarketClock().now() >= before


def test_market_clock_follows_a_jump_of_days_without_racing_afterwards():
    clock = MarketClock(speed=60.0)
    clock.observe(T0)
    clock.observe(T0 + dt.timedelta(days=22))  # the simulator advanced three weeks
    now = clock.now()
    assert T0 + dt.timedelta(days=22) <= now < T0 + dt.timedelta(days=22, minutes=1)


def test_market_clock_extrapolates_at_the_configured_speed():
    clock = MarketClock(speed=1000.0)
    clock.observe(T0)
    time.sleep(0.05)
    elapsed = (clock.now() - T0).total_seconds()
    assert 40 <= elapsed <= 500  # 50 ms of wall time at 1000x, with scheduling slack


def test_market_clock_never_goes_backwards_on_a_late_event():
    clock = MarketClock(speed=1000.0)
    clock.observe(T0)
    time.sleep(0.02)
    reported = clock.now()
    clock.observe(T0 + dt.timedelta(seconds=1))  # earlier than the extrapolated time
    assert clock.now() >= reported


def test_market_clock_ignores_an_older_stamp():
    clock = MarketClock(speed=1.0)
    clock.observe(T0 + dt.timedelta(hours=1))
    clock.observe(T0)
    assert clock.now() >= T0 + dt.timedelta(hours=1)


def test_market_clock_refuses_a_speed_of_zero():
    with pytest.raises(ValueError, match="speed"):
        MarketClock(speed=0)
