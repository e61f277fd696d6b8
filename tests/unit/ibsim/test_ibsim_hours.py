"""Sessions, listing rules and the overnight gap of the simulated market."""

from __future__ import annotations

import datetime as dt

import msgspec
import pytest

from services.ibsim import hours
from services.ibsim.dividends import ex_dates
from services.ibsim.instruments import listed_expiries
from services.ibsim.market import Market
from services.ibsim.scenario import ScenarioStep
from shared.config import SimConfig
from shared.domain.calendar import NEW_YORK

MONDAY = dt.date(2026, 6, 15)


def _ny(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), NEW_YORK)


def test_daily_rule_lists_every_session_then_weeklies_and_monthlies():
    expiries = listed_expiries(MONDAY, "daily")
    first_weeks = [e for e in expiries if (e - MONDAY).days <= 14]
    assert first_weeks == [
        dt.date(2026, 6, d) for d in (15, 16, 17, 18, 22, 23, 24, 25, 26, 29)
    ]  # Friday 19 June is Juneteenth: no session, and its weekly expires on Thursday
    assert max(expiries) - MONDAY >= dt.timedelta(days=250)


def test_mwf_weekly_and_monthly_rules():
    mwf = [e for e in listed_expiries(MONDAY, "mwf") if (e - MONDAY).days <= 14]
    assert mwf == [dt.date(2026, 6, d) for d in (15, 17, 18, 22, 24, 26, 29)]
    weekly = [e for e in listed_expiries(MONDAY, "weekly") if (e - MONDAY).days <= 14]
    assert weekly == [dt.date(2026, 6, 18), dt.date(2026, 6, 26)]
    monthly = listed_expiries(MONDAY, "monthly")
    assert all(15 <= e.day <= 21 for e in monthly) and dt.date(2026, 6, 26) not in monthly


def test_an_unknown_listing_rule_is_refused():
    with pytest.raises(ValueError, match=r"sim\.expiry_rules\.SPY"):
        SimConfig(expiry_rules={"SPY": "hourly"})


def test_a_day_order_ends_at_the_close_of_the_session_it_works_in():
    assert hours.day_order_close(_ny(MONDAY, 11)) == _ny(MONDAY, 16)
    assert hours.day_order_close(_ny(MONDAY, 8)) == _ny(MONDAY, 16)  # before the open
    assert hours.day_order_close(_ny(MONDAY, 17)) == _ny(MONDAY + dt.timedelta(days=1), 16)
    half_day = dt.date(2026, 11, 27)
    assert hours.day_order_close(_ny(half_day, 10)) == _ny(half_day, 13)


def test_session_opens_between_count_weekends_and_holidays_out():
    friday_evening = _ny(dt.date(2026, 6, 12), 17)
    assert hours.opens_between(friday_evening, _ny(dt.date(2026, 6, 15), 9, 29)) == 0
    assert hours.opens_between(friday_evening, _ny(dt.date(2026, 6, 15), 9, 30)) == 1
    assert hours.opens_between(friday_evening, _ny(dt.date(2026, 6, 22), 10)) == 5  # no 19th


def test_crossing_the_open_gaps_prices_and_a_session_hour_does_not():
    start = _ny(MONDAY, 15).astimezone(dt.UTC)
    gapped = Market(SimConfig(), start)
    flat = Market(msgspec.structs.replace(SimConfig(), open_gap_pct=0.0), start)
    for market in (gapped, flat):
        market.advance(1800)  # inside the session: the same draws, the same prices
    assert gapped.underlying_price("SPY") == flat.underlying_price("SPY")
    for market in (gapped, flat):
        market.advance(dt.timedelta(hours=18))  # past Tuesday's open
    assert gapped.underlying_price("SPY") != flat.underlying_price("SPY")
    again = Market(SimConfig(), start)
    again.advance(1800)
    again.advance(dt.timedelta(hours=18))
    assert again.underlying_price("SPY") == gapped.underlying_price("SPY")  # seeded


def test_a_scenario_lets_sessions_pass_and_lands_at_the_same_time_of_day():
    market = Market(SimConfig(), _ny(MONDAY, 12, 30).astimezone(dt.UTC))
    ScenarioStep(advance_sessions=14).apply(market)
    # 14 sessions after Monday 15 June, skipping Juneteenth and Independence Day (3 July)
    assert market.now == _ny(dt.date(2026, 7, 7), 12, 30)
    assert hours.in_session(market.now)


def test_ex_dividend_dates_follow_the_third_friday_and_the_calendar():
    spy, qqq = SimConfig().dividends["SPY"], SimConfig().dividends["QQQ"]
    assert ex_dates(spy, 2026) == [
        dt.date(2026, 3, 20),
        dt.date(2026, 6, 18),  # the third Friday is Juneteenth: the session before it
        dt.date(2026, 9, 18),
        dt.date(2026, 12, 18),
    ]
    assert ex_dates(qqq, 2026)[0] == dt.date(2026, 3, 23)  # the Monday after
