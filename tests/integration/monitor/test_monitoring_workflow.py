"""The monitor and decision services in-process on a real nats-server with real Delta tables.

Execution's events are published from the test (the simulator path is covered by execution's
own tests): an entry order placed and filled, then market data.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator

import msgspec
import pytest
from fixtures.events import NOW, condor_market, filled, placed, vix
from fixtures.tables import table_rows

from services.decision import SERVICE as DECISION
from services.monitor import SERVICE as MONITOR
from shared.bus import Bus
from shared.clock import MarketClock
from shared.config import Config
from shared.enums import Action, Severity
from shared.events import (
    AlertRaised,
    DecisionMade,
    PositionOpened,
    PositionSnapshot,
    SnapshotNow,
)
from shared.service import Runtime, run_service

# the legs' mids that value the condor at 0.18 against its 1.20 credit: UPL% +0.85
TAKE_PROFIT_MIDS = (0.05, 0.14, 0.12, 0.03)


def _with(config: Config, **monitor: float) -> Config:
    return msgspec.structs.replace(
        config, monitor=msgspec.structs.replace(config.monitor, **monitor)
    )


@pytest.fixture
def fast(config: Config) -> Config:
    return _with(config, interval_s=1.0, revalue_min_interval_s=0.05)


@pytest.fixture
async def services(fast: Config) -> AsyncIterator[tuple[Runtime, Runtime]]:
    async with (
        run_service(MONITOR, fast, MarketClock()) as monitor,
        run_service(DECISION, fast, MarketClock()) as decision,
    ):
        yield monitor, decision


async def _open_condor(bus: Bus, inbox) -> None:
    await bus.publish(vix())
    await bus.publish(placed())
    await bus.publish(filled())
    await inbox.wait_for(PositionOpened)


async def test_monitoring_workflow(services, bus: Bus, inbox, fast: Config) -> None:
    from services.decision.tables import ALERTS, DECISIONS
    from services.monitor.tables import POSITION_SNAPSHOTS

    monitor, decision = services
    await _open_condor(bus, inbox)
    await bus.publish(condor_market())
    calm = await inbox.wait_for(PositionSnapshot, lambda s: s.upl_pct < 0.5)
    assert math.isclose(calm.upl_pct, 0.40 / 1.20)

    await bus.publish(condor_market(mids=TAKE_PROFIT_MIDS))
    snap = await inbox.wait_for(PositionSnapshot, lambda s: s.upl_pct > 0.80)
    assert math.isclose(snap.mark, 0.18) and math.isclose(snap.unrealized_pnl, 102.0)
    assert snap.entry_price == 1.20 and snap.quantity == 1 and not snap.stale
    assert snap.max_profit == 120.0 and snap.max_loss == 880.0 and snap.dte == 39
    assert snap.vix == snap.vix_at_entry == 18.0 and snap.underlying_price == 580.0

    made = await inbox.wait_for(DecisionMade)
    assert (made.action, made.rule, made.strategy_id) == (Action.CLOSE, "take_profit", "s-1")
    alert = await inbox.wait_for(AlertRaised)
    assert alert.severity == Severity.INFO and alert.strategy_id == "s-1"

    # the timer keeps valuing the same condition: still one decision while the exit works
    await inbox.wait_for(PositionSnapshot, lambda s: s.upl_pct > 0.80, count=3)
    assert len(inbox.of(PositionSnapshot, lambda s: s.upl_pct > 0.80)) >= 3
    assert len(inbox.of(DecisionMade)) == 1

    for writer in (*monitor.writers.values(), *decision.writers.values()):
        await writer.flush()
    data_root = fast.storage.data_root
    snapshots = await table_rows(data_root, "monitor", POSITION_SNAPSHOTS)
    assert any(r["upl_pct"] > 0.80 and r["strategy_id"] == "s-1" for r in snapshots)
    (decided,) = await table_rows(data_root, "decision", DECISIONS)
    assert decided["decision_id"] == made.decision_id and decided["rule"] == "take_profit"
    alerts = await table_rows(data_root, "decision", ALERTS)
    assert [a["alert_id"] for a in alerts] == [alert.alert_id]


async def test_snapshots_keep_coming_every_interval_without_market_updates(
    services, bus: Bus, inbox
) -> None:
    await _open_condor(bus, inbox)
    await bus.publish(condor_market())
    await inbox.wait_for(PositionSnapshot)
    before = len(inbox.of(PositionSnapshot))
    # interval_s = 1 market second, the clock at speed 1
    await inbox.wait_for(PositionSnapshot, timeout=2.6, count=before + 2)
    assert len(inbox.of(PositionSnapshot)) - before >= 2


async def test_snapshot_now_values_at_once(config: Config, bus: Bus, inbox) -> None:
    slow = _with(config, interval_s=3600.0, revalue_min_interval_s=0.05)
    async with run_service(MONITOR, slow, MarketClock()):
        await _open_condor(bus, inbox)
        await bus.publish(condor_market())
        await inbox.wait_for(PositionSnapshot)
        count = len(inbox.of(PositionSnapshot))
        await bus.publish(SnapshotNow(market_time=NOW))
        await inbox.wait_for(PositionSnapshot, lambda _s: len(inbox.of(PositionSnapshot)) > count)
