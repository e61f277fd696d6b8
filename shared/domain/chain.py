"""An option chain snapshot indexed for the builders: expiries, strikes, quotes by contract.

Quotes of one (expiry, right) are held as numpy arrays sorted by strike, so a strike by delta or
by distance is one vectorized search; a dict maps (expiry, right, strike) to the Quote itself.
Combo prices use the signed convention of ``shared.events``: per unit, per share, credit
positive, debit negative.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import msgspec
import numpy as np

from shared.enums import Right, SecType
from shared.events import ChainProvided, Leg, Quote

FloatArray = np.ndarray

# how far out a chain must reach, in standard deviations of the move to expiry: 1.5 SD is
# about delta 0.07, beyond the condor's 0.12 band edge, before the wing is added
CHAIN_REACH_SD = 1.5
MAX_STRIKES_AROUND = 100


def strikes_around(price: float, iv: float, dte: int, wing: float, spacing: float = 1.0) -> int:
    """Strikes to ask for on each side of the money so the builder finds its short strikes and
    their wings: the expected move to ``dte`` at ``iv`` (annual) plus the wing, in strikes of
    ``spacing`` dollars (the densest grid of index ETFs)."""
    reach = price * iv * math.sqrt(max(dte, 1) / 365.0) * CHAIN_REACH_SD + wing
    return min(math.ceil(reach / spacing) + 2, MAX_STRIKES_AROUND)


class ComboQuote(msgspec.Struct, frozen=True):
    """Prices of a combo per unit (signed, credit positive).

    ``natural`` crosses every leg's spread (sell at bid, buy at ask): the worst price to trade at;
    ``best`` is the opposite side; ``mid`` lies between; ``spread = best - natural >= 0``.
    """

    natural: float
    mid: float
    best: float

    @property
    def spread(self) -> float:
        return self.best - self.natural


@dataclass(frozen=True, slots=True)
class _Side:
    """All quotes of one expiry and right, sorted by strike."""

    strikes: FloatArray
    bid: FloatArray
    ask: FloatArray
    abs_delta: FloatArray  # NaN where the quote has no delta
    quotes: list[Quote]


def _valid_market(bid: float | None, ask: float | None) -> bool:
    return bid is not None and ask is not None and 0 <= bid <= ask and math.isfinite(ask)


def _nan(x: float | None) -> float:
    return math.nan if x is None else x


class OptionChain:
    """One underlying's listed options and their latest quotes."""

    def __init__(
        self,
        symbol: str,
        underlying_price: float,
        quotes: Iterable[Quote],
        as_of: dt.datetime | None = None,
        expiries: Iterable[dt.date] = (),
    ) -> None:
        self.symbol = symbol
        self.underlying_price = underlying_price
        self.as_of = as_of
        grouped: dict[tuple[dt.date, Right], list[Quote]] = {}
        for q in quotes:
            if q.sec_type is SecType.OPTION and q.expiry and q.right and q.strike:
                grouped.setdefault((q.expiry, q.right), []).append(q)
        self._sides: dict[tuple[dt.date, Right], _Side] = {}
        self._by_contract: dict[tuple[dt.date, Right, float], Quote] = {}
        for key, group in grouped.items():
            group.sort(key=lambda q: q.strike or 0.0)
            self._sides[key] = _Side(
                strikes=np.array([q.strike for q in group], dtype=np.float64),
                bid=np.array([_nan(q.bid) for q in group], dtype=np.float64),
                ask=np.array([_nan(q.ask) for q in group], dtype=np.float64),
                abs_delta=np.abs(np.array([_nan(q.delta) for q in group], dtype=np.float64)),
                quotes=group,
            )
            for q in group:
                self._by_contract[(key[0], key[1], float(q.strike or 0.0))] = q
        # the listed expiries (from the chain definition) may include some without quotes
        self.expiries: tuple[dt.date, ...] = tuple(
            sorted(set(expiries) | {e for e, _ in self._sides})
        )

    @classmethod
    def from_event(cls, ev: ChainProvided) -> OptionChain:
        return cls(ev.symbol, ev.underlying_price, ev.quotes, ev.market_time, ev.expiries)

    def __len__(self) -> int:
        return len(self._by_contract)

    # --- lookup ------------------------------------------------------------------------------

    def strikes(self, expiry: dt.date, right: Right | None = None) -> FloatArray:
        """Listed strikes of an expiry (of one right, or of either), ascending."""
        rights = (right,) if right is not None else tuple(Right)
        arrays = [self._sides[(expiry, r)].strikes for r in rights if (expiry, r) in self._sides]
        if not arrays:
            return np.empty(0)
        return arrays[0] if len(arrays) == 1 else np.union1d(*arrays)

    def quote(self, expiry: dt.date, right: Right, strike: float) -> Quote | None:
        return self._by_contract.get((expiry, right, float(strike)))

    def is_listed(self, expiry: dt.date, right: Right, strike: float) -> bool:
        return (expiry, right, float(strike)) in self._by_contract

    # --- expiry and strike selection ----------------------------------------------------------

    def nearest_expiry(
        self,
        today: dt.date,
        target_dte: int,
        min_dte: int,
        max_dte: int,
        above_dte: int | None = None,
    ) -> dt.date | None:
        """The listed expiry nearest ``target_dte`` days out within [min_dte, max_dte].

        ``above_dte`` excludes expiries at or below it (the roll threshold). Ties go to the later
        expiry, which leaves more time before the roll.
        """
        best: tuple[int, int, dt.date] | None = None
        for expiry in self.expiries:
            dte = (expiry - today).days
            if not (min_dte <= dte <= max_dte) or (above_dte is not None and dte <= above_dte):
                continue
            key = (abs(dte - target_dte), -dte, expiry)
            if best is None or key < best:
                best = key
        return None if best is None else best[2]

    def strike_by_delta(
        self,
        expiry: dt.date,
        right: Right,
        target: float,
        band: tuple[float, float] | None = None,
    ) -> float | None:
        """The quoted strike whose |delta| is nearest ``target``, inside ``band`` if given."""
        side = self._sides.get((expiry, right))
        if side is None:
            return None
        distance = np.abs(side.abs_delta - target)
        if band is not None:
            lo, hi = band
            distance = np.where((side.abs_delta >= lo) & (side.abs_delta <= hi), distance, np.nan)
        if np.all(np.isnan(distance)):
            return None
        return float(side.strikes[int(np.nanargmin(distance))])

    def strike_nearest(
        self, expiry: dt.date, price: float, right: Right | None = None
    ) -> float | None:
        strikes = self.strikes(expiry, right)
        if strikes.size == 0:
            return None
        return float(strikes[int(np.argmin(np.abs(strikes - price)))])

    def strike_at_width(
        self, expiry: dt.date, right: Right, from_strike: float, width: float
    ) -> float | None:
        """The listed strike nearest ``from_strike + width`` strictly on that side of it.

        A negative ``width`` goes down. Ties go to the wider strike (more room, less credit).
        """
        strikes = self.strikes(expiry, right)
        beyond = strikes[strikes > from_strike] if width > 0 else strikes[strikes < from_strike]
        if beyond.size == 0 or width == 0:
            return None
        target = from_strike + width
        distance = np.abs(beyond - target) - 1e-9 * np.abs(beyond - from_strike)
        return float(beyond[int(np.argmin(distance))])

    # --- prices -------------------------------------------------------------------------------

    def leg_market(self, leg: Leg) -> tuple[float, float] | None:
        """(bid, ask) per share of a leg's contract, or None without a two-sided market."""
        q = self.quote(leg.expiry, leg.right, leg.strike)
        if q is None or not _valid_market(q.bid, q.ask):
            return None
        return float(q.bid), float(q.ask)  # type: ignore[arg-type]

    def leg_mid(self, leg: Leg) -> float | None:
        market = self.leg_market(leg)
        return None if market is None else (market[0] + market[1]) / 2

    def combo(self, legs: Sequence[Leg]) -> ComboQuote | None:
        """The combo's natural/mid/best per unit, or None when a leg has no two-sided market."""
        natural = best = 0.0
        for leg in legs:
            market = self.leg_market(leg)
            if market is None:
                return None
            bid, ask = market
            if leg.quantity < 0:  # sold: receive the bid at worst, the ask at best
                natural += -leg.quantity * bid
                best += -leg.quantity * ask
            else:
                natural -= leg.quantity * ask
                best -= leg.quantity * bid
        return ComboQuote(natural=natural, mid=(natural + best) / 2, best=best)
