"""Scenario files: a TOML list of market changes at simulated times after loading.

Example (``after_s`` is simulated seconds after the scenario is loaded)::

    [[step]]
    after_s = 0
    symbol = "SPY"
    jump_pct = -0.03        # SPY drops 3 %

    [[step]]
    after_s = 600
    set_vix = 32.0
    shock_iv = 0.25         # every IV surface +25 % (or name a symbol)

    [[step]]
    after_s = 1200
    symbol = "QQQ"
    price = 480.0

Steps run in time order on the first market change at or after their time; a step may hold
several actions, applied in the order price, jump_pct, shock_iv, set_vix, advance_s,
advance_sessions. ``advance_sessions = 14`` jumps to the same New York time of day 14 trading
sessions later, so a demo that lets weeks pass lands inside a session and keeps trading.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from pathlib import Path

import msgspec

from services.ibsim.market import Market
from shared.domain.calendar import NEW_YORK, next_session_open, trading_date


class ScenarioStep(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    after_s: float = 0.0
    symbol: str | None = None
    price: float | None = None
    jump_pct: float | None = None
    shock_iv: float | None = None
    set_vix: float | None = None
    advance_s: float | None = None  # jump simulated time (days pass in a demo)
    advance_sessions: int | None = None  # jump to this time of day, that many sessions on

    def apply(self, market: Market) -> None:
        if self.price is not None:
            market.set_price(self._symbol(), self.price)
        if self.jump_pct is not None:
            market.jump(self._symbol(), self.jump_pct)
        if self.shock_iv is not None:
            market.shock_iv(self.shock_iv, self.symbol)
        if self.set_vix is not None:
            market.set_vix(self.set_vix)
        if self.advance_s is not None:
            market.advance(self.advance_s)
        if self.advance_sessions is not None:
            market.advance(sessions_later(market.now, self.advance_sessions) - market.now)

    def _symbol(self) -> str:
        if not self.symbol:
            raise ValueError("a price step needs a symbol")
        return self.symbol


def sessions_later(now: dt.datetime, sessions: int) -> dt.datetime:
    """The same New York time of day, ``sessions`` trading sessions after ``now``'s date."""
    local = now.astimezone(NEW_YORK)
    day = local.date()
    for _ in range(sessions):
        day = trading_date(next_session_open(dt.datetime.combine(day, dt.time(23, 59), NEW_YORK)))
    return dt.datetime.combine(day, local.time(), NEW_YORK).astimezone(dt.UTC)


class ScenarioFile(msgspec.Struct, forbid_unknown_fields=True):
    step: list[ScenarioStep] = msgspec.field(default_factory=list)


class Scenario:
    """A loaded scenario anchored at the simulated time it was loaded."""

    def __init__(self, steps: list[ScenarioStep], loaded_at: dt.datetime) -> None:
        self._pending = sorted(steps, key=lambda s: s.after_s)
        self._loaded_at = loaded_at

    @property
    def pending(self) -> int:
        return len(self._pending)

    def apply_due(self, market: Market) -> None:
        """Apply every step whose time has come (each at most once)."""
        elapsed = (market.now - self._loaded_at).total_seconds()
        while self._pending and self._pending[0].after_s <= elapsed:
            self._pending.pop(0).apply(market)


SHIPPED = Path(__file__).parent / "scenarios"


def scenario_path(name_or_path: str) -> Path:
    """A scenario file: a path as given, else one shipped with the simulator by name."""
    path = Path(name_or_path)
    if path.exists():
        return path
    shipped = SHIPPED / f"{name_or_path}.toml"
    if shipped.exists():
        return shipped
    known = sorted(p.stem for p in SHIPPED.glob("*.toml"))
    raise FileNotFoundError(f"no scenario {name_or_path!r} (a path, or one of {known})")


def load_scenario(path: Path, now: dt.datetime) -> Scenario:
    data = tomllib.loads(path.read_text())
    parsed = msgspec.convert(data, ScenarioFile)
    return Scenario(parsed.step, now)
