"""execution's wiring: the durable consumers it reads (shared/bus/streams.py) and their types.

The order and exit workflows replace ``log_receipt`` with ``on_<event>`` handlers and add the
IB connection, the market data relay and the chain/history responders (``Bus.serve``).
"""

from __future__ import annotations

from shared.bus.received import log_receipt
from shared.events import CloseAll, DecisionMade, Halt, Resume, StrategyBuilt
from shared.service import Runtime


async def wire(rt: Runtime) -> None:
    await rt.consume("strategy_built", log_receipt, StrategyBuilt)
    await rt.consume("decisions", log_receipt, DecisionMade)
    await rt.consume("commands", log_receipt, CloseAll | Halt | Resume)
