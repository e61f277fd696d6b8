"""The decision service in-process on a real nats-server with real Delta tables."""

from __future__ import annotations

from collections.abc import AsyncIterator

import msgspec
import pytest
from fixtures.events import take_profit_snapshot
from fixtures.tables import table_rows, wait_rows

from services.decision import SERVICE as DECISION
from services.decision.tables import ALERTS
from shared.bus import Bus
from shared.clock import MarketClock
from shared.config import Config
from shared.enums import AlertStatus
from shared.events import (
    AcknowledgeAlert,
    AlertRaised,
    AlertStatusChanged,
    DeadLettered,
    ResolveAlert,
)
from shared.service import Runtime, run_service


@pytest.fixture
async def decision(config: Config) -> AsyncIterator[Runtime]:
    async with run_service(DECISION, config, MarketClock()) as runtime:
        yield runtime


async def test_alert_ack_and_resolve_change_the_stored_alert(
    decision: Runtime, bus: Bus, inbox, config: Config
) -> None:
    await bus.publish(take_profit_snapshot())
    alert = await inbox.wait_for(AlertRaised)
    await bus.publish(AcknowledgeAlert(alert_id=alert.alert_id, note="seen"))
    acked = await inbox.wait_for(AlertStatusChanged)
    assert acked.status == AlertStatus.ACKNOWLEDGED
    await bus.publish(ResolveAlert(alert_id=alert.alert_id, note="closed by hand"))
    await inbox.wait_for(AlertStatusChanged, lambda e: e.status == AlertStatus.RESOLVED)
    # the row is committed right after the handler, before the command is acked
    resolved = AlertStatus.RESOLVED.value
    data_root = config.storage.data_root
    await wait_rows(data_root, "decision", ALERTS, lambda r: r["status"] == resolved, timeout=5)
    (row,) = await table_rows(data_root, "decision", ALERTS)
    assert (row["status"], row["note"]) == (AlertStatus.RESOLVED.value, "closed by hand")


async def test_snapshot_missing_a_field_is_dead_lettered(
    decision: Runtime, bus: Bus, inbox, config: Config
) -> None:
    fields = msgspec.to_builtins(take_profit_snapshot())
    del fields["upl_pct"]
    subject = f"{config.nats.subject_prefix}.position.s-1"
    await bus.nc.publish(subject, msgspec.msgpack.encode(fields))
    letter = await inbox.wait_for(DeadLettered)
    assert letter.service == "decision" and "upl_pct" in letter.error
