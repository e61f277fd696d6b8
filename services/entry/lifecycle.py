"""A strategy's lifecycle as entry sees it, moved by execution's order and exit events.

pending (built) → open (entry fill) → closing (exit order working) → closed (exit filled, or
rolled into a replacement); pending → failed (rejected, denied, or cancelled unfilled at the end
of the walk). The allowed moves are the transition table of ``shared.domain.strategy``; a move it
refuses is reported as ``NotAllowed`` (the caller logs it) and nothing is applied. Applying the same
event twice changes nothing (JetStream redelivers), because every change is a status move to
where the record already is, or a quantity that only grows with ``cumulative_quantity``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import msgspec

from shared.domain.position import average_price, fill_opens, price_within
from shared.domain.strategy import InvalidTransition, Strategy, make_strategy, transition
from shared.enums import (
    ExitResult,
    OrderPurpose,
    OrderStatus,
    Right,
    StrategyStatus,
    StrategyType,
)
from shared.events import (
    Event,
    ExitExecuted,
    Leg,
    LegFill,
    OrderDenied,
    OrderFilled,
    OrderPlaced,
    OrderRejected,
    OrderStatusChanged,
)

OPENING_PURPOSES = frozenset({OrderPurpose.ENTRY, OrderPurpose.ROLL})
ACTIVE_STATUSES = frozenset({StrategyStatus.PENDING, StrategyStatus.OPEN, StrategyStatus.CLOSING})
# an order that ends in these without a fill leaves its strategy unopened
UNFILLED_ENDS = frozenset({OrderStatus.CANCELLED, OrderStatus.REJECTED, OrderStatus.FAILED})


class StrategyRecord(msgspec.Struct, frozen=True, kw_only=True):
    """One row of entry's ``strategies`` table: the built strategy and what became of it.

    ``filled_quantity`` is the number of units actually held (the position is what filled, not
    what was intended); ``fill_price`` is the average signed entry fill per unit.
    ``delta_per_unit``/``gamma_per_unit`` are the build-time Greeks in share equivalents per unit,
    used for the book's capacity checks when no live leg quotes are at hand.
    """

    strategy: Strategy
    filled_quantity: int = 0
    fill_price: float | None = None
    realized_pnl: float | None = None
    rolled_into: str | None = None
    delta_per_unit: float = 0.0
    gamma_per_unit: float = 0.0
    updated_at: dt.datetime | None = None

    @property
    def strategy_id(self) -> str:
        return self.strategy.strategy_id

    @property
    def status(self) -> StrategyStatus:
        return self.strategy.status

    @property
    def held_quantity(self) -> int:
        """Units that count against the book: held when open, intended while pending."""
        if self.status is StrategyStatus.PENDING:
            return self.strategy.quantity
        return self.filled_quantity


class Applied(msgspec.Struct, frozen=True):
    record: StrategyRecord


class NotAllowed(msgspec.Struct, frozen=True):
    """The lifecycle forbids the move the event asks for; nothing is applied."""

    reason: str


class Unchanged(msgspec.Struct, frozen=True):
    pass


UNCHANGED = Unchanged()
Change = Applied | NotAllowed | Unchanged


def _move(
    record: StrategyRecord, to: StrategyStatus, at: dt.datetime, reason: str, **fields: object
) -> Change:
    if record.status is to:
        if not fields or all(getattr(record, k) == v for k, v in fields.items()):
            return UNCHANGED
        return Applied(msgspec.structs.replace(record, updated_at=at, **fields))
    try:
        moved = transition(record.strategy, to, at, reason)
    except InvalidTransition as exc:
        return NotAllowed(str(exc))
    return Applied(msgspec.structs.replace(record, strategy=moved, updated_at=at, **fields))


def _key(leg: Leg | LegFill) -> tuple[Right, float, dt.date]:
    return (leg.right, float(leg.strike), leg.expiry)


def opening_legs(legs: Sequence[Leg], replaced: Strategy | None) -> list[Leg]:
    """The legs of a roll order that open the new strategy.

    A roll sent as one combo carries the old strategy's legs reversed as well; they are left
    out, so the replacement holds only its own legs.
    """
    if replaced is None:
        return list(legs)
    closing = {(*_key(leg), -leg.quantity) for leg in replaced.legs}
    return [leg for leg in legs if (*_key(leg), leg.quantity) not in closing]


def roll_replacement(
    event: OrderPlaced, at: dt.datetime, replaced: Strategy | None = None
) -> StrategyRecord:
    """The pending record of a roll's new strategy, from the ROLL order that opens it.

    Its entry price is the legs' own net price where the order carries leg prices; otherwise
    the order's limit stands in (for a roll combo that is the net roll price) until the fill.
    """
    legs = opening_legs(event.legs, replaced)
    priced = all(leg.price is not None for leg in legs)
    strategy = make_strategy(
        strategy_id=event.strategy_id,
        symbol=event.symbol,
        strategy_type=event.strategy_type or StrategyType.CUSTOM,
        legs=legs,
        quantity=event.quantity,
        entry_price=-sum(leg.quantity * (leg.price or 0.0) for leg in legs)
        if priced
        else event.limit_price,
        created_at=at,
        rolled_from=event.rolled_from,
    )
    return StrategyRecord(strategy=strategy, updated_at=at)


def roll_started(record: StrategyRecord, new_strategy_id: str, at: dt.datetime) -> Change:
    """The old strategy of a roll whose replacement's order (one roll combo) is working."""
    if record.status is not StrategyStatus.OPEN:
        return UNCHANGED
    return _move(record, StrategyStatus.CLOSING, at, f"rolling into {new_strategy_id}")


def _on_fill(record: StrategyRecord, event: OrderFilled, at: dt.datetime) -> Change:
    if not fill_opens(event.purpose, event.rolled_from) or record.status is StrategyStatus.CLOSING:
        return UNCHANGED  # an exit's fill: the ExitExecuted that follows says what it did
    cumulative = max(event.cumulative_quantity, record.filled_quantity)
    if cumulative == record.filled_quantity and record.status is not StrategyStatus.PENDING:
        return UNCHANGED
    new_units = cumulative - record.filled_quantity
    # a roll combo's price includes closing the old legs: the new legs' own fills price it
    price = price_within(record.strategy.legs, event.legs, event.price)
    if record.fill_price is not None and record.filled_quantity > 0:
        price = average_price(record.fill_price, record.filled_quantity, price, new_units)
    return _move(
        record,
        StrategyStatus.OPEN,
        at,
        "entry filled" if cumulative >= record.strategy.quantity else "entry partially filled",
        filled_quantity=cumulative,
        fill_price=price,
    )


def _on_unfilled_end(
    record: StrategyRecord, purpose: OrderPurpose, reason: str, at: dt.datetime
) -> Change:
    if purpose not in OPENING_PURPOSES or record.status is not StrategyStatus.PENDING:
        # a partially filled entry keeps what filled; an exit's failure comes as ExitExecuted
        return UNCHANGED
    return _move(record, StrategyStatus.FAILED, at, reason)


def _on_exit(record: StrategyRecord, event: ExitExecuted, at: dt.datetime) -> Change:
    match event.result:
        case ExitResult.CLOSED:
            return _move(
                record,
                StrategyStatus.CLOSED,
                at,
                event.reason or f"closed by {event.rule or event.action}",
                realized_pnl=event.realized_pnl,
            )
        case ExitResult.ROLLED:
            return _move(
                record,
                StrategyStatus.CLOSED,
                at,
                f"rolled into {event.new_strategy_id}",
                realized_pnl=event.realized_pnl,
                rolled_into=event.new_strategy_id,
            )
        case ExitResult.REDUCED:
            return _move(
                record,
                StrategyStatus.OPEN,
                at,
                f"reduced to {event.remaining_quantity}",
                filled_quantity=event.remaining_quantity,
            )
        case ExitResult.FAILED:
            if record.status is StrategyStatus.CLOSING:
                return _move(record, StrategyStatus.OPEN, at, f"exit failed: {event.reason}")
            return UNCHANGED
    return UNCHANGED


def apply(record: StrategyRecord, event: Event, at: dt.datetime) -> Change:
    """What ``event`` does to ``record`` (an event of another strategy is the caller's error)."""
    match event:
        case OrderPlaced(purpose=OrderPurpose.EXIT):
            return _move(record, StrategyStatus.CLOSING, at, "exit order working")
        case OrderPlaced(purpose=OrderPurpose.ROLL, rolled_from=None) if (
            record.status is StrategyStatus.OPEN
        ):
            # the old strategy's side of a roll placed under its own id; the replacement's
            # opening order carries rolled_from instead
            return _move(record, StrategyStatus.CLOSING, at, "roll order working")
        case OrderFilled():
            return _on_fill(record, event, at)
        case OrderStatusChanged(status=status) if status in UNFILLED_ENDS and event.filled == 0:
            return _on_unfilled_end(record, event.purpose, event.reason or f"order {status}", at)
        case OrderRejected() | OrderDenied():
            kind = "rejected" if isinstance(event, OrderRejected) else "denied"
            return _on_unfilled_end(record, event.purpose, f"order {kind}: {event.reason}", at)
        case ExitExecuted():
            return _on_exit(record, event, at)
    return UNCHANGED
