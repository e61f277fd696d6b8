import math

from fixtures.events import CALL_DEBIT, CONDOR, NOW, built, filled, placed

from services.monitor.book import PositionBook, payoff_extremes
from shared.enums import ExitResult, OrderPurpose, StrategyStatus, StrategyType
from shared.events import Action, ExitExecuted


def _open_condor(quantity: int = 2) -> PositionBook:
    book = PositionBook()
    book.on_strategy_built(built(quantity=quantity))
    book.on_order_filled(filled(quantity=quantity), NOW)
    return book


def test_book_is_built_from_fills_not_from_the_built_strategy() -> None:
    book = PositionBook()
    book.on_strategy_built(built(quantity=3))
    assert book.open_positions() == []
    book.on_order_filled(filled(exec_id="e-1", quantity=1, price=1.20), NOW)
    book.on_order_filled(filled(exec_id="e-2", quantity=1, price=1.30), NOW)
    (pos,) = book.open_positions()
    assert pos.quantity == 2  # a partial fill: the filled quantity is the position
    assert math.isclose(pos.entry_price, 1.25)
    assert pos.strategy_type == StrategyType.IRON_CONDOR


def test_redelivered_fill_changes_nothing() -> None:
    book = _open_condor()
    assert book.on_order_filled(filled(quantity=2), NOW) is None
    assert book.positions["s-1"].quantity == 2


def test_reduce_fill_reduces_and_exit_fill_closes_with_realized_pnl() -> None:
    book = _open_condor(quantity=2)
    book.on_order_filled(
        filled(exec_id="x-1", quantity=1, price=-0.30, purpose=OrderPurpose.REDUCE), NOW
    )
    assert book.positions["s-1"].quantity == 1
    book.on_order_filled(
        filled(exec_id="x-2", quantity=1, price=-0.50, purpose=OrderPurpose.EXIT), NOW
    )
    pos = book.positions["s-1"]
    assert pos.status == StrategyStatus.CLOSED
    assert math.isclose(pos.realized_pnl, (1.20 - 0.30) * 100 + (1.20 - 0.50) * 100)


def test_roll_closes_the_old_strategy_and_opens_the_new_one() -> None:
    book = _open_condor(quantity=1)
    book.on_order_placed(
        placed("s-1-r1", purpose=OrderPurpose.ROLL, rolled_from="s-1", order_ref="s-1-r1:roll")
    )
    assert book.positions["s-1"].exit_working
    book.on_order_filled(
        filled("s-1-r1", exec_id="r-1", purpose=OrderPurpose.ROLL, rolled_from="s-1"), NOW
    )
    book.on_exit_executed(
        ExitExecuted(
            strategy_id="s-1",
            action=Action.ROLL,
            result=ExitResult.ROLLED,
            new_strategy_id="s-1-r1",
            realized_pnl=40.0,
        ),
        NOW,
    )
    assert [p.strategy_id for p in book.open_positions()] == ["s-1-r1"]
    assert book.positions["s-1-r1"].rolled_from == "s-1"
    assert book.positions["s-1"].realized_pnl == 40.0


def test_reduced_exit_sets_the_remaining_quantity_idempotently() -> None:
    book = _open_condor(quantity=4)
    event = ExitExecuted(
        strategy_id="s-1", action=Action.REDUCE, result=ExitResult.REDUCED, remaining_quantity=2
    )
    book.on_exit_executed(event, NOW)
    book.on_exit_executed(event, NOW)
    assert book.positions["s-1"].quantity == 2


def test_payoff_extremes_of_credit_condor_and_debit_spread() -> None:
    assert payoff_extremes(CONDOR, 1.20) == (120.0, 880.0)
    best, worst = payoff_extremes(CALL_DEBIT, -4.0)
    assert (best, worst) == (600.0, 400.0)
    _, naked = payoff_extremes(CONDOR[1:3], 2.0)
    assert naked == math.inf
