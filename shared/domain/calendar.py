"""Exchange sessions, days to expiry and the entry window, from ``exchange_calendars``.

Holidays and half days come from the calendar package, never from a hand-written list. Building
a calendar takes ~0.1 s, so each one is built once per process over a fixed range and turned into
plain dictionaries of session open/close times: every call below is a dictionary lookup, cheap
enough to run on every market-data snapshot.

Times are timezone-aware datetimes (any zone; naive ones are refused). Options expire at the
**close** of their expiry session: 16:00 ET on a normal day, 13:00 ET on a half day.
"""

from __future__ import annotations

import bisect
import datetime as dt
import warnings
from dataclasses import dataclass
from functools import cache
from zoneinfo import ZoneInfo

import exchange_calendars

NEW_YORK = ZoneInfo("America/New_York")
DEFAULT_CALENDAR = "XNYS"
SECONDS_PER_YEAR = 365.0 * 86400.0  # calendar-day year, as theta in optionmath
# fixed bounds keep the calendar independent of the day the process starts
_FIRST = "2000-01-01"
_LAST = "2045-12-29"


@dataclass(frozen=True, slots=True)
class Session:
    date: dt.date
    open: dt.datetime  # UTC
    close: dt.datetime  # UTC
    half_day: bool


@dataclass(frozen=True, slots=True)
class _Sessions:
    by_date: dict[dt.date, Session]
    dates: list[dt.date]  # sorted


@cache
def _sessions(name: str) -> _Sessions:
    with warnings.catch_warnings():
        # exchange_calendars 4.13 trips a pandas 3 deprecation inside its own schedule code
        warnings.simplefilter("ignore", DeprecationWarning)
        cal = exchange_calendars.get_calendar(name, start=_FIRST, end=_LAST)
        early = {ts.date() for ts in cal.early_closes}
        schedule = cal.schedule
    by_date = {
        day.date(): Session(
            date=day.date(),
            open=o.to_pydatetime(),
            close=c.to_pydatetime(),
            half_day=day.date() in early,
        )
        for day, o, c in zip(schedule.index, schedule["open"], schedule["close"], strict=True)
    }
    return _Sessions(by_date=by_date, dates=sorted(by_date))


def _require_aware(now: dt.datetime) -> None:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(f"naive datetime {now!r}: pass a timezone-aware time")


def _in_range(sessions: _Sessions, day: dt.date) -> None:
    if not sessions.dates[0] <= day <= sessions.dates[-1]:
        raise ValueError(f"{day} is outside the calendar range {_FIRST}..{_LAST}")


def trading_date(now: dt.datetime) -> dt.date:
    """The date of ``now`` in New York (the exchange's date, whatever zone ``now`` is in)."""
    _require_aware(now)
    return now.astimezone(NEW_YORK).date()


def session(day: dt.date, calendar: str = DEFAULT_CALENDAR) -> Session | None:
    """The session on ``day``, or None on a weekend or holiday."""
    sessions = _sessions(calendar)
    _in_range(sessions, day)
    return sessions.by_date.get(day)


def is_session(day: dt.date, calendar: str = DEFAULT_CALENDAR) -> bool:
    return session(day, calendar) is not None


def is_half_day(day: dt.date, calendar: str = DEFAULT_CALENDAR) -> bool:
    """True on an early-close session (e.g. the day after Thanksgiving, Christmas Eve)."""
    found = session(day, calendar)
    return found is not None and found.half_day


def previous_session(day: dt.date, calendar: str = DEFAULT_CALENDAR) -> Session:
    """The session on ``day`` or, if none, the last one before it."""
    sessions = _sessions(calendar)
    _in_range(sessions, day)
    i = bisect.bisect_right(sessions.dates, day) - 1
    return sessions.by_date[sessions.dates[i]]


def expiry_close(expiry: dt.date, calendar: str = DEFAULT_CALENDAR) -> dt.datetime:
    """When an option expiring on ``expiry`` stops trading (UTC).

    An expiry date that is not a session (an exchange holiday) expires at the previous session's
    close, as listed options do when their Friday is a holiday.
    """
    return previous_session(expiry, calendar).close


def dte(expiry: dt.date, now: dt.datetime) -> int:
    """Calendar days from the New York date of ``now`` to ``expiry`` (0 on expiry day)."""
    return (expiry - trading_date(now)).days


def time_to_expiry(expiry: dt.date, now: dt.datetime, calendar: str = DEFAULT_CALENDAR) -> float:
    """Years (of 365 days) from ``now`` to the close of the expiry session; 0 once it passed."""
    _require_aware(now)
    seconds = (expiry_close(expiry, calendar) - now).total_seconds()
    return max(seconds, 0.0) / SECONDS_PER_YEAR


def next_session_open(now: dt.datetime, calendar: str = DEFAULT_CALENDAR) -> dt.datetime:
    """The next regular-session open strictly after ``now`` (UTC)."""
    sessions = _sessions(calendar)
    day = trading_date(now)
    _in_range(sessions, day)
    i = bisect.bisect_left(sessions.dates, day)
    for candidate in sessions.dates[i : i + 2]:
        opening = sessions.by_date[candidate].open
        if opening > now:
            return opening
    raise ValueError(f"no session after {now} within the calendar range")


def _parse_hhmm(text: str) -> dt.time:
    hours, minutes = text.split(":")
    return dt.time(int(hours), int(minutes))


def is_entry_window(
    now: dt.datetime,
    avoid_open_min: int = 30,
    avoid_close_min: int = 30,
    half_day_cutoff: str = "12:30",
    calendar: str = DEFAULT_CALENDAR,
) -> tuple[bool, str]:
    """Whether a new entry may be made at ``now``, and why not when it may not.

    Regular hours only, not in the first ``avoid_open_min`` nor the last ``avoid_close_min``
    minutes of the session, and on a half day not after ``half_day_cutoff`` (New York time).
    """
    found = session(trading_date(now), calendar)
    if found is None:
        return False, f"{trading_date(now)} is not a trading day"
    if not found.open <= now < found.close:
        return False, "outside regular trading hours"
    if now < found.open + dt.timedelta(minutes=avoid_open_min):
        return False, f"within the first {avoid_open_min} minutes of the session"
    if found.half_day:
        cutoff = dt.datetime.combine(found.date, _parse_hhmm(half_day_cutoff), NEW_YORK)
        if now >= cutoff:
            return False, f"half day: no entries after {half_day_cutoff} ET"
    if now >= found.close - dt.timedelta(minutes=avoid_close_min):
        return False, f"within the last {avoid_close_min} minutes of the session"
    return True, "in the entry window"
