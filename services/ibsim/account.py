"""One paper account: cash, positions with IB-style average costs, account values, expiry.

IB's ``avgCost`` is per contract including the multiplier and commissions (an option bought
at 1.50 with $0.65 commission has avgCost 150.65). Margin is a coarse approximation: short
options carry 20 % of the underlying's notional less their premium, floored at 10 %, which is
enough for buying-power checks in a demo; it is not IB's portfolio margin.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from services.ibsim.instruments import Instrument, stock
from services.ibsim.market import Market
from shared.domain.calendar import expiry_close

SUMMARY_TAGS = (
    "AccountType",
    "NetLiquidation",
    "TotalCashValue",
    "SettledCash",
    "BuyingPower",
    "AvailableFunds",
    "ExcessLiquidity",
    "EquityWithLoanValue",
    "GrossPositionValue",
    "InitMarginReq",
    "MaintMarginReq",
    "FullInitMarginReq",
    "FullMaintMarginReq",
    "UnrealizedPnL",
    "RealizedPnL",
    "Cushion",
    "Leverage",
)


@dataclass(slots=True)
class Position:
    instrument: Instrument
    position: float = 0.0  # signed contracts or shares, as IB names it
    avg_cost: float = 0.0  # per contract, multiplier and commission included
    realized: float = 0.0


@dataclass(frozen=True, slots=True)
class ExpiryOutcome:
    """What expiring did to one option position."""

    option: Instrument
    qty: float
    exercised: bool
    stock_delta: float  # shares received (+) or delivered (-)


class Account:
    def __init__(self, account_id: str, cash: float) -> None:
        self.account_id = account_id
        self.cash = cash
        self.positions: dict[int, Position] = {}
        self.realized = 0.0

    def apply_fill(
        self, instrument: Instrument, signed_qty: float, price: float, commission: float
    ) -> float:
        """Book a fill; returns the realized P&L of the part that closed a position."""
        factor = instrument.factor
        self.cash -= signed_qty * price * factor + commission
        pos = self.positions.setdefault(instrument.con_id, Position(instrument))
        # commission raises a purchase's cost and lowers a sale's proceeds (IB's avgCost)
        unit = price * factor + commission / signed_qty
        realized = 0.0
        if pos.position == 0 or (pos.position > 0) == (signed_qty > 0):
            total = abs(pos.position) + abs(signed_qty)
            pos.avg_cost = (pos.avg_cost * abs(pos.position) + unit * abs(signed_qty)) / total
            pos.position += signed_qty
        else:
            closing = min(abs(signed_qty), abs(pos.position))
            direction = 1.0 if pos.position > 0 else -1.0
            realized = direction * closing * (unit - pos.avg_cost)
            pos.position += signed_qty
            if abs(pos.position) < 1e-9:
                pos.position = 0.0
            elif (pos.position > 0) != (direction > 0):
                pos.avg_cost = unit  # flipped: the remainder opened at this fill
        pos.realized += realized
        self.realized += realized
        return round(realized, 2)

    def market_value(self, pos: Position, market: Market) -> float:
        return pos.position * market.price_of(pos.instrument) * pos.instrument.factor

    def values(self, market: Market) -> dict[str, float | str]:
        """The account's values as IB names them (reqAccountSummary, account updates)."""
        gross = 0.0
        net_positions = 0.0
        unrealized = 0.0
        margin = 0.0
        for pos in self.positions.values():
            if pos.position == 0:
                continue
            mv = self.market_value(pos, market)
            net_positions += mv
            gross += abs(mv)
            unrealized += mv - pos.position * pos.avg_cost
            margin += self._maintenance(pos, market, mv)
        net_liq = self.cash + net_positions
        init = margin * 1.1
        available = net_liq - init
        return {
            "AccountType": "INDIVIDUAL",
            "NetLiquidation": round(net_liq, 2),
            "TotalCashValue": round(self.cash, 2),
            "SettledCash": round(self.cash, 2),
            "BuyingPower": round(max(available, 0.0) * 4, 2),
            "AvailableFunds": round(available, 2),
            "ExcessLiquidity": round(net_liq - margin, 2),
            "EquityWithLoanValue": round(net_liq, 2),
            "GrossPositionValue": round(gross, 2),
            "InitMarginReq": round(init, 2),
            "MaintMarginReq": round(margin, 2),
            "FullInitMarginReq": round(init, 2),
            "FullMaintMarginReq": round(margin, 2),
            "UnrealizedPnL": round(unrealized, 2),
            "RealizedPnL": round(self.realized, 2),
            "Cushion": round((net_liq - margin) / net_liq, 4) if net_liq else 0.0,
            "Leverage": round(gross / net_liq, 4) if net_liq else 0.0,
        }

    @staticmethod
    def _maintenance(pos: Position, market: Market, mv: float) -> float:
        inst = pos.instrument
        if inst.sec_type == "STK":
            return 0.25 * abs(mv)
        if not inst.is_option or pos.position > 0:
            return 0.0
        spot = market.underlying_price(inst.symbol)
        notional = spot * inst.factor * abs(pos.position)
        return max(0.2 * notional - abs(mv), 0.1 * notional) + abs(mv)

    def open_positions(self) -> list[Position]:
        return [p for p in self.positions.values() if p.position != 0]

    def expire(self, now: dt.datetime, market: Market) -> list[ExpiryOutcome]:
        """Settle every option whose expiry close has passed: ITM ones into stock, others to 0.

        Exercise uses the underlying's price at the moment of settlement (the simulator runs
        this on the first tick after the close).
        """
        outcomes = []
        for pos in list(self.positions.values()):
            inst = pos.instrument
            if not inst.is_option or pos.position == 0:
                continue
            expiry = dt.datetime.strptime(inst.expiry, "%Y%m%d").date()
            if now < expiry_close(expiry):
                continue
            spot = market.underlying_price(inst.symbol)
            intrinsic = (spot - inst.strike) if inst.right == "C" else (inst.strike - spot)
            outcomes.append(self.settle(pos, exercised=intrinsic >= 0.01))
        return outcomes

    def settle(self, pos: Position, exercised: bool) -> ExpiryOutcome:
        """Take an option position off the book: exercised or assigned into stock at the strike,
        or lapsed."""
        inst = pos.instrument
        qty = pos.position
        stock_delta = 0.0
        if exercised:
            # a long call buys stock, a long put sells it; shorts are assigned the reverse
            per_contract = inst.factor if inst.right == "C" else -inst.factor
            stock_delta = qty * per_contract
            self.apply_fill(stock(inst.symbol), stock_delta, inst.strike, 0.0)
        self.apply_fill(inst, -qty, 0.0, 0.0)
        return ExpiryOutcome(inst, qty, exercised, stock_delta)
