"""The book of strategies, built from fills (never from intentions) and from exits.

Every handler here is idempotent: fills are keyed by ``exec_id``, exits set absolute quantities,
so a JetStream redelivery (in any order) leaves the book as it was. What a fill does is the one
position fold of ``shared.domain.position``; every status move is checked against the lifecycle.

Units: ``entry_price`` is the signed net price per unit (credit positive) averaged over the
opening fills; ``realized_pnl`` is currency for the position.
"""

from __future__ import annotations

import datetime as dt
import functools

import msgspec

from shared.domain.position import PositionState, apply_fill, fill_opens, move, price_within
from shared.domain.strategy import payoff
from shared.enums import (
    TERMINAL_ORDER_STATUSES,
    ExitResult,
    OrderPurpose,
    OrderSide,
    OrderStatus,
    StrategyStatus,
    StrategyType,
)
from shared.events import (
    MULTIPLIER,
    ExitExecuted,
    Leg,
    OrderDenied,
    OrderFilled,
    OrderPlaced,
    OrderRejected,
    OrderStatusChanged,
    StrategyBuilt,
)

_EXIT_PURPOSES = frozenset({OrderPurpose.EXIT, OrderPurpose.REDUCE})


class Position(msgspec.Struct, kw_only=True):
    """One strategy as the monitor knows it; persisted as one row of the positions table."""

    strategy_id: str
    symbol: str = ""
    strategy_type: StrategyType = StrategyType.CUSTOM
    legs: list[Leg] = []
    status: StrategyStatus = StrategyStatus.PENDING
    quantity: int = 0
    entry_price: float = 0.0
    opened_at: dt.datetime | None = None
    closed_at: dt.datetime | None = None
    iv_at_entry: float | None = None
    vix_at_entry: float | None = None
    realized_pnl: float = 0.0
    commission: float = 0.0
    rolled_from: str | None = None
    rolled_into: str | None = None
    exit_working: bool = False
    exec_ids: list[str] = []
    updated_at: dt.datetime | None = None

    @property
    def is_open(self) -> bool:
        return self.status == StrategyStatus.OPEN and self.quantity > 0 and bool(self.legs)

    def state(self) -> PositionState:
        return PositionState(
            strategy_id=self.strategy_id,
            status=self.status,
            quantity=self.quantity,
            entry_price=self.entry_price,
            realized_pnl=self.realized_pnl,
            opened_at=self.opened_at,
            closed_at=self.closed_at,
        )

    def adopt(self, state: PositionState) -> None:
        self.status = state.status
        self.quantity = state.quantity
        self.entry_price = state.entry_price
        self.realized_pnl = state.realized_pnl
        self.opened_at = state.opened_at
        self.closed_at = state.closed_at


def payoff_extremes(legs: list[Leg], entry_price: float) -> tuple[float, float]:
    """(max profit, max loss) per unit in currency at expiry, positive; math.inf if unbounded."""
    # every valuation asks again for an unchanged strategy: memoized
    return _payoff_extremes(tuple(legs), entry_price)


@functools.lru_cache(maxsize=16_384)
def _payoff_extremes(legs: tuple[Leg, ...], entry_price: float) -> tuple[float, float]:
    if not legs:
        return 0.0, 0.0
    result = payoff(legs, entry_price)
    # rounded after scaling so that binary noise does not show in currency figures
    return (
        round(max(result.max_profit, 0.0) * MULTIPLIER, 6),
        round(result.max_loss * MULTIPLIER, 6),
    )


class PositionBook:
    """Positions by strategy id, with the handlers that keep them true to the fills."""

    def __init__(self, positions: list[Position] | None = None) -> None:
        self.positions: dict[str, Position] = {p.strategy_id: p for p in positions or []}

    def _get(self, strategy_id: str) -> Position:
        pos = self.positions.get(strategy_id)
        if pos is None:
            pos = self.positions[strategy_id] = Position(strategy_id=strategy_id)
        return pos

    def open_positions(self) -> list[Position]:
        return [p for p in self.positions.values() if p.is_open]

    def _learn_structure(
        self,
        pos: Position,
        symbol: str,
        strategy_type: StrategyType | None,
        legs: list[Leg],
        rolled_from: str | None,
    ) -> None:
        # the first structure seen wins: a later replay of the same facts changes nothing
        pos.symbol = pos.symbol or symbol
        if strategy_type is not None and pos.strategy_type == StrategyType.CUSTOM:
            pos.strategy_type = strategy_type
        if not pos.legs and legs:
            pos.legs = [msgspec.structs.replace(leg, price=None) for leg in legs]
        pos.rolled_from = pos.rolled_from or rolled_from

    def on_strategy_built(self, event: StrategyBuilt) -> Position:
        pos = self._get(event.strategy_id)
        self._learn_structure(pos, event.symbol, event.strategy_type, event.legs, event.rolled_from)
        return pos

    def on_order_placed(self, event: OrderPlaced) -> Position:
        pos = self._get(event.strategy_id)
        if event.purpose in _EXIT_PURPOSES:
            pos.exit_working = pos.is_open
        elif not pos.is_open:
            self._learn_structure(
                pos, event.symbol, event.strategy_type, event.legs, event.rolled_from
            )
        old = self.positions.get(event.rolled_from or "")
        if event.purpose == OrderPurpose.ROLL and old is not None and old.is_open:
            old.exit_working = True
        return pos

    def on_order_ended(
        self, event: OrderStatusChanged | OrderRejected | OrderDenied
    ) -> Position | None:
        """An exit order that ended without closing the position: no exit is working any more."""
        if isinstance(event, OrderStatusChanged) and (
            event.status not in TERMINAL_ORDER_STATUSES or event.status == OrderStatus.FILLED
        ):
            return None
        pos = self.positions.get(event.strategy_id)
        if pos is not None and event.purpose == OrderPurpose.ROLL and pos.rolled_from:
            pos = self.positions.get(pos.rolled_from)
        elif event.purpose not in _EXIT_PURPOSES:
            return None
        if pos is None or not pos.exit_working:
            return None
        pos.exit_working = False
        return pos

    def on_order_filled(self, event: OrderFilled, now: dt.datetime) -> Position | None:
        """Apply one execution; returns the position it changed, None for a repeat.

        Raises ``InvalidTransition`` for a fill the lifecycle forbids (a failed or closed
        strategy opening again): nothing is applied.
        """
        pos = self._get(event.strategy_id)
        if event.exec_id in pos.exec_ids:
            return None
        at = event.market_time or now
        opening = fill_opens(event.purpose, event.rolled_from)
        if opening and not pos.legs:
            pos.legs = self._legs_of(event)
        price = price_within(pos.legs, event.legs, event.price) if opening else event.price
        applied = apply_fill(
            pos.state(), event.purpose, event.rolled_from, event.quantity, price, at
        )
        pos.adopt(applied.state)
        pos.exec_ids.append(event.exec_id)
        pos.commission += event.commission
        if pos.status is StrategyStatus.CLOSED:
            pos.exit_working = False
        pos.updated_at = now
        return pos

    @staticmethod
    def _legs_of(event: OrderFilled) -> list[Leg]:
        # structure not seen yet (events out of order): the leg fills describe it
        return [
            Leg(
                right=lf.right,
                strike=lf.strike,
                expiry=lf.expiry,
                quantity=(1 if lf.side == OrderSide.BUY else -1)
                * max(lf.quantity // max(event.quantity, 1), 1),
                con_id=lf.con_id,
            )
            for lf in event.legs
        ]

    def on_exit_executed(self, event: ExitExecuted, now: dt.datetime) -> Position | None:
        pos = self.positions.get(event.strategy_id)
        if pos is None:
            return None
        # the quantities below count these fills already: one that arrives after this event
        # (orders and exits are consumed side by side) is a repeat, not another close
        pos.exec_ids.extend(k for k in event.exec_ids if k not in pos.exec_ids)
        pos.exit_working = False
        if event.result == ExitResult.REDUCED and pos.status == StrategyStatus.OPEN:
            pos.quantity = max(event.remaining_quantity, 0)
        elif event.result in (ExitResult.CLOSED, ExitResult.ROLLED):
            pos.quantity = 0
            pos.rolled_into = event.new_strategy_id or pos.rolled_into
            if event.realized_pnl is not None:
                pos.realized_pnl = event.realized_pnl
        if pos.quantity == 0 and pos.status == StrategyStatus.OPEN:
            pos.adopt(move(pos.state(), StrategyStatus.CLOSED, event.market_time or now))
        pos.updated_at = now
        return pos
