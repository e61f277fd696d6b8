"""kill -9 of the monitor (a real subprocess): the book comes back from its positions table."""

from __future__ import annotations

import math

import pytest
from fixtures.consumers import wait_acked
from fixtures.events import condor_market, filled, placed, vix

from shared.bus import Bus
from shared.events import PositionOpened, PositionSnapshot

pytestmark = pytest.mark.slow


async def test_book_is_restored_from_the_positions_table(bus: Bus, inbox, spawn) -> None:
    service = spawn("monitor")
    await service.start()
    await bus.publish(vix())
    await bus.publish(placed(quantity=3))
    await bus.publish(filled(exec_id="e-1", quantity=2, price=1.20))
    await bus.publish(filled(exec_id="e-2", quantity=1, price=1.50))
    await inbox.wait_for(PositionOpened)
    await bus.publish(condor_market())
    await inbox.wait_for(PositionSnapshot, lambda s: s.quantity == 3)
    await wait_acked(bus, "monitor", "orders")
    await service.kill()

    inbox.events.clear()
    await service.start()
    await bus.publish(vix())
    await bus.publish(condor_market())
    snap = await inbox.wait_for(PositionSnapshot)
    assert snap.strategy_id == "s-1" and snap.quantity == 3
    assert math.isclose(snap.entry_price, 1.30)
    assert snap.vix_at_entry == 18.0
