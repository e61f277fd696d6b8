"""monitor's wiring: the durable consumers it reads (shared/bus/streams.py) and their types.

The position monitoring workflow replaces ``log_receipt`` with ``on_<event>`` handlers and adds
the market data subscription and the valuation timer.
"""

from __future__ import annotations

from shared.bus.received import log_receipt
from shared.events import (
    CloseAll,
    ExitExecuted,
    OrderDenied,
    OrderFilled,
    OrderPlaced,
    OrderRejected,
    OrderStatusChanged,
    SnapshotNow,
)
from shared.service import Runtime

ORDER_EVENTS = OrderPlaced | OrderStatusChanged | OrderFilled | OrderRejected | OrderDenied


async def wire(rt: Runtime) -> None:
    await rt.consume("orders", log_receipt, ORDER_EVENTS)
    await rt.consume("exits", log_receipt, ExitExecuted)
    await rt.consume("commands", log_receipt, SnapshotNow | CloseAll)
