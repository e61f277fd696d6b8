"""Regular trading hours as the simulator enforces them, from the exchange calendar.

IB holds an order that arrives outside the regular session (``outsideRth`` is not honoured for
options) until the next open and says so with warning 399; a DAY order works the session it was
placed in, or the next one when it arrived after the close, and ends at that session's close
(13:00 New York on a half day).
"""

from __future__ import annotations

import datetime as dt

from shared.domain import calendar

US_EASTERN = "US/Eastern"  # the zone name IB prints in its messages


def in_session(now: dt.datetime) -> bool:
    """True inside a regular session of the exchange calendar."""
    found = calendar.session(calendar.trading_date(now))
    return found is not None and found.open <= now < found.close


def next_open(now: dt.datetime) -> dt.datetime:
    """The next regular-session open after ``now`` (UTC)."""
    return calendar.next_session_open(now)


def opens_between(start: dt.datetime, end: dt.datetime) -> int:
    """How many session opens fall in ``(start, end]``."""
    count = 0
    opening = next_open(start)
    while opening <= end:
        count += 1
        opening = next_open(opening)
    return count


def day_order_close(placed_at: dt.datetime) -> dt.datetime:
    """When a DAY order placed at ``placed_at`` ends: the close of the session it works in."""
    found = calendar.session(calendar.trading_date(placed_at))
    if found is not None and placed_at < found.close:
        return found.close
    opening = next_open(placed_at)
    following = calendar.session(calendar.trading_date(opening))
    assert following is not None
    return following.close


def held_until_open_text(description: str, opening: dt.datetime) -> str:
    """IB's warning 399 for an order that waits for the open (IB-Matlab guide, §8.1)."""
    local = opening.astimezone(calendar.NEW_YORK)
    return (
        f"Order Message:\n{description}\n"
        "Warning: your order will not be placed at the exchange until\n"
        f"{local:%Y-%m-%d %H:%M:%S} {US_EASTERN}"
    )
