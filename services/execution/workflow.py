"""execution's workflows assembled on one order placer, and the one table of what each order
role's fills and end do to the book.

A fill travels: the IB client (``ib_client``) → the order manager, which pairs the executions
into whole units (``order_manager``) → the role's ``on_fill`` below (the book, through the
position fold) → ``OrderFilled`` out through the recorder. An order's end travels the same way
to the role's ``on_done``, which reports the exit (``reports``) or places the next order.
"""

from __future__ import annotations

from services.execution.brackets import Brackets
from services.execution.closing import Closer
from services.execution.entries import EntryOrderWorkflow
from services.execution.exits import ExitWorkflow
from services.execution.order_manager import RoleCallbacks
from services.execution.orders import OrderRole
from services.execution.placing import OrderPlacer
from services.execution.reports import ExitReports
from services.execution.rolls import RollSetup, RollWorkflow


def role_callbacks(
    entries: EntryOrderWorkflow, brackets: Brackets, closer: Closer, rolls: RollWorkflow
) -> dict[OrderRole, RoleCallbacks]:
    """Every order role → (on_fill, on_done)."""
    return {
        OrderRole.ENTRY: RoleCallbacks(entries.on_fill, entries.on_done),
        OrderRole.BRACKET: RoleCallbacks(brackets.on_fill, brackets.on_done),
        OrderRole.CLOSE: RoleCallbacks(closer.on_fill, closer.on_done),
        OrderRole.REDUCE: RoleCallbacks(closer.on_fill, closer.on_done),
        OrderRole.ROLL_CLOSE: RoleCallbacks(closer.on_fill, rolls.on_close_done),
        OrderRole.ROLL_COMBO: RoleCallbacks(rolls.on_combo_fill, rolls.on_done),
        OrderRole.ROLL_OPEN: RoleCallbacks(entries.on_fill, rolls.on_done),
    }


class ExecutionWorkflows:
    """The entry, exit and roll workflows of one service, sharing its placer."""

    def __init__(self, placer: OrderPlacer, roll: RollSetup | None = None) -> None:
        self.placer = placer
        reports = ExitReports(placer)
        brackets = Brackets(placer, reports)
        closer = Closer(placer, brackets, reports)
        self.rolls = RollWorkflow(placer, closer, brackets, reports, roll)
        self.entries = EntryOrderWorkflow(placer, brackets)
        self.exits = ExitWorkflow(placer, closer, self.rolls, reports)
        placer.orders.roles = role_callbacks(self.entries, brackets, closer, self.rolls)
