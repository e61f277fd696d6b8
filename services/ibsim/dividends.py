"""Quarterly ex-dividend dates of the simulated underlyings (``SimConfig.dividends``).

Early assignment happens on the eve of an ex-date: the holder of an in-the-money call whose
time value is below the dividend exercises it at the close of the session before the ex-date
to own the stock when it goes ex; the writer finds the stock delivered the next morning.
"""

from __future__ import annotations

import datetime as dt

from shared.config import DividendConfig
from shared.domain import calendar


def _third_friday(year: int, month: int) -> dt.date:
    first = dt.date(year, month, 1)
    return first + dt.timedelta(days=(4 - first.weekday()) % 7 + 14)


def ex_dates(dividend: DividendConfig, year: int) -> list[dt.date]:
    """The year's ex-dividend dates, each on a session."""
    out = []
    for month in dividend.months:
        day = _third_friday(year, month) + dt.timedelta(days=dividend.days_after_third_friday)
        if not calendar.is_session(day):
            day = calendar.previous_session(day).date
        out.append(day)
    return out


def assignment_eves(
    dividend: DividendConfig, start: dt.datetime, end: dt.datetime
) -> list[dt.date]:
    """Ex-dates whose eve (the close of the session before them) falls in ``(start, end]``."""
    out = []
    for year in range(calendar.trading_date(start).year, calendar.trading_date(end).year + 1):
        for ex_date in ex_dates(dividend, year):
            eve = calendar.previous_session(ex_date - dt.timedelta(days=1)).close
            if start < eve <= end:
                out.append(ex_date)
    return out
