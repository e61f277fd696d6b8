"""decision's wiring: the durable consumers it reads (shared/bus/streams.py) and their types.

The rule engine replaces ``log_receipt`` with ``on_<event>`` handlers and adds the position
snapshot subscription.
"""

from __future__ import annotations

from shared.bus.received import log_receipt
from shared.events import AcknowledgeAlert, ExitExecuted, ResolveAlert
from shared.service import Runtime


async def wire(rt: Runtime) -> None:
    await rt.consume("exits", log_receipt, ExitExecuted)
    await rt.consume("commands", log_receipt, AcknowledgeAlert | ResolveAlert)
