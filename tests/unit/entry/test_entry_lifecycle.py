"""The strategy lifecycle as entry's book applies execution's events."""

from __future__ import annotations

import datetime as dt

from entry_factories import (
    EXPIRY,
    T0,
    condor_legs,
    denied,
    exited,
    filled,
    make_record,
    placed,
    rejected,
    status,
)
from msgspec.structs import replace

from services.entry.book import EntryBook
from services.entry.lifecycle import Applied, NotAllowed, Unchanged, apply
from shared.enums import (
    Action,
    ExitResult,
    OrderPurpose,
    OrderSide,
    OrderStatus,
    StrategyStatus,
)
from shared.events import LegFill

T1 = T0 + dt.timedelta(minutes=1)
PRICES = [1.0, 1.9, 1.6, 1.1]  # LP, SP, SC, LC of the replacement


def _status_after(*events, record=None):
    book = EntryBook([record or make_record()])
    for event in events:
        book.apply(event, T1)
    return book.get("s1")


def test_entry_fill_opens_a_pending_strategy_with_the_filled_quantity():
    rec = _status_after(placed(), filled(cumulative=2))
    assert rec.status is StrategyStatus.OPEN
    assert rec.filled_quantity == 2
    assert rec.fill_price == 1.5
    assert rec.strategy.opened_at == T1


def test_partial_fill_holds_only_what_filled_then_grows_with_the_next_fill():
    rec = _status_after(filled(cumulative=1, price=1.4))
    assert (rec.status, rec.filled_quantity) == (StrategyStatus.OPEN, 1)
    rec = _status_after(filled(cumulative=1, price=1.4), filled(cumulative=2, price=1.6))
    assert rec.filled_quantity == 2
    assert abs(rec.fill_price - 1.5) < 1e-12


def test_redelivered_fill_changes_nothing():
    rec = make_record()
    first = apply(rec, filled(), T1)
    assert isinstance(first, Applied)
    assert isinstance(apply(first.record, filled(), T1), Unchanged)


def test_late_redelivery_of_an_earlier_partial_fill_does_not_shrink_the_position():
    rec = _status_after(filled(cumulative=2), filled(cumulative=1))
    assert rec.filled_quantity == 2


def test_rejection_denial_and_unfilled_cancel_fail_a_pending_strategy_with_the_reason():
    for event, reason in (
        (rejected(reason="no margin"), "no margin"),
        (denied(reason="halted"), "halted"),
        (status(status=OrderStatus.CANCELLED, reason="walk ended unfilled"), "walk ended"),
    ):
        rec = _status_after(event)
        assert rec.status is StrategyStatus.FAILED
        assert reason in rec.strategy.status_reason


def test_cancel_of_the_rest_after_a_partial_fill_keeps_the_strategy_open():
    rec = _status_after(filled(cumulative=1), status(status=OrderStatus.CANCELLED, filled=1))
    assert (rec.status, rec.filled_quantity) == (StrategyStatus.OPEN, 1)


def test_exit_order_then_exit_fill_closes_with_realized_pnl():
    rec = _status_after(filled(), placed(purpose=OrderPurpose.EXIT), exited(realized_pnl=95.0))
    assert rec.status is StrategyStatus.CLOSED
    assert rec.realized_pnl == 95.0


def test_failed_exit_returns_a_closing_strategy_to_open():
    rec = _status_after(
        filled(),
        placed(purpose=OrderPurpose.EXIT),
        exited(result=ExitResult.FAILED, reason="walk ended"),
    )
    assert rec.status is StrategyStatus.OPEN
    assert "walk ended" in rec.strategy.status_reason


def test_reduce_keeps_the_strategy_open_with_the_remaining_quantity():
    rec = _status_after(
        filled(), exited(action=Action.REDUCE, result=ExitResult.REDUCED, remaining_quantity=1)
    )
    assert (rec.status, rec.filled_quantity) == (StrategyStatus.OPEN, 1)


def test_a_fill_for_a_closed_strategy_is_an_invalid_transition_and_not_applied():
    closed = _status_after(filled(), exited())
    change = apply(closed, filled(cumulative=3, total_quantity=3), T1)
    assert isinstance(change, NotAllowed)
    book = EntryBook([closed])
    assert book.apply(filled(cumulative=3, total_quantity=3), T1) == []
    assert book.get("s1").status is StrategyStatus.CLOSED


def test_exit_fill_does_not_touch_the_position_until_the_exit_is_reported():
    rec = _status_after(
        filled(), placed(purpose=OrderPurpose.EXIT), filled(purpose=OrderPurpose.EXIT)
    )
    assert (rec.status, rec.filled_quantity) == (StrategyStatus.CLOSING, 2)


def test_roll_replacement_becomes_a_new_open_strategy_linked_to_the_old_one():
    book = EntryBook([make_record()])
    book.apply(filled(), T0)
    roll = placed(
        "s1-r1",
        purpose=OrderPurpose.ROLL,
        rolled_from="s1",
        order_ref="v6:s1-r1:roll:0",
    )
    changed = book.apply(roll, T1)
    assert {r.strategy_id for r in changed} == {"s1", "s1-r1"}
    assert book.get("s1").status is StrategyStatus.CLOSING
    book.apply(filled("s1-r1", purpose=OrderPurpose.ROLL, rolled_from="s1"), T1)
    book.apply(exited(action=Action.ROLL, result=ExitResult.ROLLED, new_strategy_id="s1-r1"), T1)
    old, new = book.get("s1"), book.get("s1-r1")
    assert (old.status, old.rolled_into) == (StrategyStatus.CLOSED, "s1-r1")
    assert (new.status, new.strategy.rolled_from) == (StrategyStatus.OPEN, "s1")
    assert new.filled_quantity == 2
    # the replacement's own opening order redelivered does not start closing it
    assert book.apply(roll, T1) == []
    assert book.get("s1-r1").status is StrategyStatus.OPEN


def test_events_of_unknown_strategies_are_ignored():
    book = EntryBook()
    assert book.apply(filled("other"), T1) == []
    assert len(book) == 0


def test_book_finds_the_strategy_of_a_signal_and_lists_only_active_ones():
    book = EntryBook([make_record("a", signal_id="x"), make_record("b", signal_id="y")])
    book.apply(rejected("b"), T1)
    assert book.by_signal("x").strategy_id == "a"
    assert [r.strategy_id for r in book.active()] == ["a"]
    assert book.active("QQQ") == []


def test_a_roll_combo_opens_the_replacement_with_its_own_legs_and_price():
    book = EntryBook([make_record()])
    book.apply(filled(), T0)
    later = EXPIRY + dt.timedelta(days=28)
    old_reversed = [replace(leg, quantity=-leg.quantity) for leg in condor_legs()]
    new_legs = [replace(leg, price=p) for leg, p in zip(condor_legs(later), PRICES, strict=True)]
    roll = placed(
        "s1-r1",
        purpose=OrderPurpose.ROLL,
        rolled_from="s1",
        legs=[*old_reversed, *new_legs],
        limit_price=0.35,  # the net roll price: new credit minus the cost to close
    )
    book.apply(roll, T1)
    new = book.get("s1-r1")
    assert sorted(new.strategy.legs, key=lambda leg: leg.strike) == sorted(
        new_legs, key=lambda leg: leg.strike
    )
    assert abs(new.strategy.entry_price - 1.4) < 1e-9  # -1.0 + 1.9 + 1.6 - 1.1 from its legs
    fills = [
        LegFill(
            con_id=None,
            right=leg.right,
            strike=leg.strike,
            expiry=leg.expiry,
            side=OrderSide.BUY if leg.quantity > 0 else OrderSide.SELL,
            quantity=2,
            price=p,
        )
        for leg, p in zip([*old_reversed, *new_legs], [*PRICES, 1.0, 2.0, 1.7, 1.1], strict=True)
    ]
    book.apply(
        filled("s1-r1", purpose=OrderPurpose.ROLL, rolled_from="s1", price=0.3, legs=fills), T1
    )
    new = book.get("s1-r1")
    assert new.status is StrategyStatus.OPEN
    assert abs(new.fill_price - 1.6) < 1e-9  # -1.0 + 2.0 + 1.7 - 1.1: its own credit
