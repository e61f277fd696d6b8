"""The simulator's listed instruments: stocks, the VIX index, and option chains.

Contract ids are stable for a given start date: underlyings use their real IB conIds, options
are numbered in chain order, so a client that cached a conId finds it again after a reconnect.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import exchange_calendars as xcals
import numpy as np
import pandas as pd

from shared.domain import calendar
from shared.domain.calendar import expiry_close

NEW_YORK = ZoneInfo("America/New_York")

# real IB conIds, so logs read like the real thing; unknown symbols get a derived id
KNOWN_CON_IDS = {"SPY": 756733, "QQQ": 320227571, "IWM": 9579970, "VIX": 13455763}
PRIMARY_EXCHANGE = {"SPY": "ARCA", "QQQ": "NASDAQ", "IWM": "ARCA"}
OPTION_CON_ID_BASE = 700_000_000
# SPY-like listings: weeklies for months, so a 45-DTE entry and its roll both find weeklies
# after simulated weeks have passed (the chain is listed once, at start)
WEEKLY_HORIZON_DAYS = 120
MONTHLY_HORIZON_DAYS = 300  # inside the calendar library's default one-year range
# daily (and Mon/Wed/Fri) expiries are listed a few weeks out, as the exchanges list SPY's
SHORT_DATED_HORIZON_DAYS = 35


@dataclass(frozen=True, slots=True)
class Instrument:
    """One tradable or quotable contract, with the fields IB reports for it."""

    con_id: int
    symbol: str
    sec_type: str  # STK, IND, OPT
    expiry: str = ""  # YYYYMMDD for options
    strike: float = 0.0
    right: str = ""  # C or P
    multiplier: str = ""
    exchange: str = "SMART"
    primary_exchange: str = ""
    currency: str = "USD"
    local_symbol: str = ""
    trading_class: str = ""

    @property
    def is_option(self) -> bool:
        return self.sec_type == "OPT"

    @property
    def factor(self) -> float:
        """Cash per unit of price per contract (100 for equity options)."""
        return float(self.multiplier) if self.multiplier else 1.0


@functools.cache
def xnys() -> xcals.ExchangeCalendar:
    """The NYSE calendar, loaded once per process (it takes ~0.5 s)."""
    return xcals.get_calendar("XNYS")


def previous_session(day: dt.date) -> dt.date:
    """The session on or before ``day``."""
    return xnys().date_to_session(pd.Timestamp(day), direction="previous").date()


def listed_expiries(today: dt.date, rule: str = "weekly") -> list[dt.date]:
    """The expiries an underlying lists on ``today`` under its listing ``rule``.

    Every rule lists monthly third Fridays out ~10 months; "weekly" adds every Friday for ~4
    months, "mwf" also Mondays and Wednesdays and "daily" every session for the next weeks. A
    Friday that is a holiday expires on the session before it, as listed options do; a short-
    dated Monday or Wednesday that is a holiday is not listed.
    """
    out: set[dt.date] = set()
    short_days = {"daily": range(5), "mwf": (0, 2, 4)}.get(rule, ())
    for offset in range(MONTHLY_HORIZON_DAYS + 1):
        day = today + dt.timedelta(days=offset)
        friday = day.weekday() == 4
        short_dated = offset <= SHORT_DATED_HORIZON_DAYS and day.weekday() in short_days
        if short_dated and calendar.is_session(day):
            out.add(day)
            continue
        listed = (friday and 15 <= day.day <= 21) or (
            friday and rule != "monthly" and offset <= WEEKLY_HORIZON_DAYS
        )
        if listed:
            expiry = previous_session(day)
            if expiry >= today:
                out.add(expiry)
    return sorted(out)


def strike_grid(spot: float) -> np.ndarray:
    """Strikes around the money: $1 apart within ±12 %, $5 apart out to ±35 %."""
    near = np.arange(np.floor(spot * 0.88), np.ceil(spot * 1.12) + 1, 1.0)
    far_low = np.arange(5 * np.floor(spot * 0.65 / 5), near[0], 5.0)
    far_high = np.arange(5 * np.ceil(near[-1] / 5 + 1e-9), spot * 1.35, 5.0)
    return np.unique(np.concatenate([far_low, near, far_high]))


def occ_local_symbol(symbol: str, expiry: str, right: str, strike: float) -> str:
    """The OCC option symbol IB uses as localSymbol: ``SPY   250117C00580000``."""
    return f"{symbol:<6}{expiry[2:]}{right}{round(strike * 1000):08d}"


def underlying_con_id(symbol: str) -> int:
    if symbol in KNOWN_CON_IDS:
        return KNOWN_CON_IDS[symbol]
    # stable across processes, unlike hash()
    return 10_000_000 + sum((i + 1) * ord(c) for i, c in enumerate(symbol))


def stock(symbol: str) -> Instrument:
    return Instrument(
        con_id=underlying_con_id(symbol),
        symbol=symbol,
        sec_type="STK",
        primary_exchange=PRIMARY_EXCHANGE.get(symbol, "ARCA"),
        local_symbol=symbol,
        trading_class=symbol,
    )


def vix_index() -> Instrument:
    return Instrument(
        con_id=KNOWN_CON_IDS["VIX"],
        symbol="VIX",
        sec_type="IND",
        exchange="CBOE",
        local_symbol="VIX",
        trading_class="VIX",
    )


@dataclass(frozen=True)
class Chain:
    """One underlying's listed options as parallel arrays, in conId order."""

    symbol: str
    expiries: list[dt.date]
    strikes: np.ndarray
    contracts: list[Instrument]
    strike: np.ndarray  # per contract
    is_call: np.ndarray
    expiry_close_ts: np.ndarray  # per contract: unix seconds of the expiry close

    def index_of(self, con_id: int) -> int:
        return con_id - self.contracts[0].con_id


def build_chain(
    symbol: str, spot: float, today: dt.date, first_con_id: int, rule: str = "weekly"
) -> Chain:
    expiries = listed_expiries(today, rule)
    strikes = strike_grid(spot)
    contracts: list[Instrument] = []
    closes: list[float] = []
    for expiry in expiries:
        code = expiry.strftime("%Y%m%d")
        close_ts = expiry_close(expiry).timestamp()
        for strike in strikes:
            for right in ("C", "P"):
                contracts.append(
                    Instrument(
                        con_id=first_con_id + len(contracts),
                        symbol=symbol,
                        sec_type="OPT",
                        expiry=code,
                        strike=float(strike),
                        right=right,
                        multiplier="100",
                        local_symbol=occ_local_symbol(symbol, code, right, float(strike)),
                        trading_class=symbol,
                    )
                )
                closes.append(close_ts)
    return Chain(
        symbol=symbol,
        expiries=expiries,
        strikes=strikes,
        contracts=contracts,
        strike=np.array([c.strike for c in contracts]),
        is_call=np.array([c.right == "C" for c in contracts]),
        expiry_close_ts=np.array(closes),
    )
