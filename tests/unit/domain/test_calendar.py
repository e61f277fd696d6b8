"""Sessions, holidays, half days, DST, DTE and expiry at the close."""

from __future__ import annotations

import datetime as dt

import pytest

from shared.domain.calendar import (
    NEW_YORK,
    dte,
    expiry_close,
    is_entry_window,
    is_half_day,
    is_session,
    next_session_open,
    time_to_expiry,
    trading_date,
)


def ny(y: int, mo: int, d: int, h: int = 12, mi: int = 0) -> dt.datetime:
    return dt.datetime(y, mo, d, h, mi, tzinfo=NEW_YORK)


@pytest.mark.parametrize(
    ("day", "why"),
    [
        (dt.date(2026, 11, 26), "Thanksgiving"),
        (dt.date(2026, 12, 25), "Christmas"),
        (dt.date(2026, 4, 3), "Good Friday"),
        (dt.date(2026, 7, 3), "Independence Day observed"),
        (dt.date(2026, 11, 28), "Saturday"),
    ],
)
def test_holidays_and_weekends_are_not_sessions(day, why):
    assert not is_session(day), why


def test_day_after_thanksgiving_is_a_half_day_closing_at_13_et():
    assert is_session(dt.date(2026, 11, 27))
    assert is_half_day(dt.date(2026, 11, 27))
    assert expiry_close(dt.date(2026, 11, 27)).astimezone(NEW_YORK).time() == dt.time(13, 0)


def test_ordinary_day_is_not_a_half_day_and_closes_at_16_et():
    assert not is_half_day(dt.date(2026, 11, 25))
    assert expiry_close(dt.date(2026, 11, 25)).astimezone(NEW_YORK).time() == dt.time(16, 0)


def test_holiday_is_not_a_half_day():
    assert not is_half_day(dt.date(2026, 11, 26))


def test_close_is_16_et_on_both_sides_of_the_dst_change():
    # 2026-03-06 is before, 2026-03-13 after the switch to daylight time (2026-03-08)
    assert expiry_close(dt.date(2026, 3, 6)) == dt.datetime(2026, 3, 6, 21, 0, tzinfo=dt.UTC)
    assert expiry_close(dt.date(2026, 3, 13)) == dt.datetime(2026, 3, 13, 20, 0, tzinfo=dt.UTC)


def test_expiry_on_a_holiday_expires_at_the_previous_session_close():
    # Good Friday 2026: the Thursday before closes at 16:00 ET
    assert expiry_close(dt.date(2026, 4, 3)) == dt.datetime(2026, 4, 2, 20, 0, tzinfo=dt.UTC)


def test_dte_counts_calendar_days_from_the_new_york_date():
    assert dte(dt.date(2027, 1, 15), ny(2026, 11, 25)) == 51
    assert dte(dt.date(2026, 11, 25), ny(2026, 11, 25, 15, 59)) == 0


def test_dte_uses_new_york_date_not_utc_date_late_in_the_evening():
    late = dt.datetime(2026, 11, 26, 2, 0, tzinfo=dt.UTC)  # 21:00 ET on the 25th
    assert trading_date(late) == dt.date(2026, 11, 25)
    assert dte(dt.date(2026, 11, 27), late) == 2


def test_time_to_expiry_runs_to_the_close_of_expiry_day():
    one_hour_before = ny(2026, 12, 18, 15, 0)
    assert time_to_expiry(dt.date(2026, 12, 18), one_hour_before) == pytest.approx(
        3600 / (365 * 86400)
    )


def test_time_to_expiry_on_a_half_day_ends_at_13_et():
    assert time_to_expiry(dt.date(2026, 11, 27), ny(2026, 11, 27, 12, 0)) == pytest.approx(
        3600 / (365 * 86400)
    )
    assert time_to_expiry(dt.date(2026, 11, 27), ny(2026, 11, 27, 13, 30)) == 0.0


def test_time_to_expiry_is_zero_after_expiry():
    assert time_to_expiry(dt.date(2026, 11, 20), ny(2026, 11, 25)) == 0.0


def test_time_to_expiry_across_dst_counts_real_elapsed_hours():
    # 2026-03-06 16:00 EST to 2026-03-13 16:00 EDT is 7 days less one hour
    years = time_to_expiry(dt.date(2026, 3, 13), ny(2026, 3, 6, 16, 0))
    assert years * 365 * 24 == pytest.approx(7 * 24 - 1)


def test_naive_datetime_is_refused():
    with pytest.raises(ValueError, match="naive"):
        dte(dt.date(2026, 12, 18), dt.datetime(2026, 11, 25, 12, 0))


@pytest.mark.parametrize(
    ("now", "allowed", "reason"),
    [
        (ny(2026, 11, 25, 11, 0), True, "in the entry window"),
        (ny(2026, 11, 25, 10, 0), True, "in the entry window"),
        (ny(2026, 11, 25, 9, 59), False, "first 30 minutes"),
        (ny(2026, 11, 25, 9, 0), False, "outside regular"),
        (ny(2026, 11, 25, 15, 29), True, "in the entry window"),
        (ny(2026, 11, 25, 15, 30), False, "last 30 minutes"),
        (ny(2026, 11, 25, 16, 0), False, "outside regular"),
        (ny(2026, 11, 26, 11, 0), False, "not a trading day"),
        (ny(2026, 11, 28, 11, 0), False, "not a trading day"),
        (ny(2026, 11, 27, 12, 29), True, "in the entry window"),
        (ny(2026, 11, 27, 12, 30), False, "half day"),
    ],
)
def test_entry_window(now, allowed, reason):
    ok, why = is_entry_window(now)
    assert ok is allowed
    assert reason in why


def test_entry_window_honours_custom_margins():
    ok, _ = is_entry_window(ny(2026, 11, 25, 9, 45), avoid_open_min=10)
    assert ok


def test_entry_window_accepts_utc_times():
    ok, _ = is_entry_window(dt.datetime(2026, 11, 25, 16, 0, tzinfo=dt.UTC))  # 11:00 ET
    assert ok


def test_next_session_open_skips_the_holiday_and_weekend():
    after_close = ny(2026, 11, 25, 17, 0)
    assert next_session_open(after_close) == ny(2026, 11, 27, 9, 30)
    friday_evening = ny(2026, 11, 27, 18, 0)
    assert next_session_open(friday_evening) == ny(2026, 11, 30, 9, 30)


def test_next_session_open_before_the_bell_is_today():
    assert next_session_open(ny(2026, 11, 25, 8, 0)) == ny(2026, 11, 25, 9, 30)
    assert next_session_open(ny(2026, 11, 25, 9, 30)) == ny(2026, 11, 27, 9, 30)
