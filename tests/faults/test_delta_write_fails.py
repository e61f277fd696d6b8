"""A Delta commit failing: the service acks nothing it could not persist, says so, and applies
the redelivered message once the table can be written again."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pyarrow as pa
import pytest
from fault_harness import assert_closed_once, unwritable
from fixtures.consumers import wait_acked
from fixtures.system import open_system
from fixtures.tables import wait_rows
from fixtures.waiting import until

from services.execution.tables import FILLS, HOLDINGS
from services.monitor.tables import POSITIONS
from shared.bus import Bus
from shared.config import Config
from shared.enums import Action
from shared.errors import Transient
from shared.events import PositionOpened
from shared.storage import BatchWriter, Table, TableSpec

pytestmark = pytest.mark.slow


async def _logged(caplog: pytest.LogCaptureFixture, message: str, timeout: float = 10.0) -> None:
    await until(
        lambda: any(r.getMessage() == message for r in caplog.records),
        f"logged {message!r}",
        timeout,
    )


async def test_monitor_positions_commit_failing_the_fill_is_redelivered_and_applied_once(
    config: Config, bus: Bus, data_root: Path, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.ERROR)
    # redeliveries spaced so the table is back before the message would be dead-lettered
    nats = {"max_deliveries": 20, "retry_base_s": 0.2, "retry_max_s": 0.5}
    walk = {"walk_interval_s": 600.0}  # the entry rests until the test fills it
    async with open_system(config, bus, data_root, nats=nats, orders=walk) as system:
        system.make_neutral("SPY")
        await system.start()
        await system.wait_market_data()
        opening, built, entry = await system.resting_entry("SPY")
        sid = built.strategy_id
        await wait_rows(data_root, "monitor", POSITIONS, lambda r: r["strategy_id"] == sid)

        with unwritable(data_root / "monitor" / POSITIONS.name):
            system.fill_now(entry)
            await _logged(caplog, "commit before ack failed")
        await opening
        await wait_acked(bus, "monitor", "orders")  # the redelivered fill is through

        # what a restart would restore the book from
        (row,) = await wait_rows(data_root, "monitor", POSITIONS, lambda r: r["strategy_id"] == sid)
        assert row["status"] == "open" and row["quantity"] == built.quantity, row
        assert len(system.inbox.of(PositionOpened, lambda e: e.strategy_id == sid)) == 1

        await system.take_profit(sid, Action.CLOSE)
        system.fill_now(await system.sim_order(sid, "exit"))
        await assert_closed_once(system, sid, built.quantity)


NOTES = TableSpec("notes", pa.schema([pa.field("id", pa.string(), nullable=False)]), key=("id",))


async def test_a_batch_the_timer_could_not_commit_fails_the_flush_before_the_ack(tmp_path: Path):
    # the bus flushes before acking: rows a timed commit took and lost must fail that flush
    table = await asyncio.to_thread(Table.open, tmp_path, NOTES)
    writer = BatchWriter(table, max_rows=100, max_seconds=0.01)
    writer.start()
    try:
        with unwritable(tmp_path / NOTES.name):
            row = writer.add({"id": "a"})
            with pytest.raises(Exception, match="Not a directory"):
                await row  # the timer's commit
        with pytest.raises(Transient):
            await writer.flush()
        writer.add({"id": "a"})  # the redelivered message brings its row again
        await writer.flush()
    finally:
        await writer.close()
    assert (await table.read()).to_pylist() == [{"id": "a"}]


@pytest.mark.parametrize(
    ("spec", "logged", "landed"),
    [
        (HOLDINGS, "holding not saved: retrying", "held"),
        (FILLS, "batch commit failed", "quantity"),
    ],
    ids=["holdings", "fills"],
)
async def test_execution_tables_unwritable_while_an_entry_fills_land_once_nothing_is_resent(
    config: Config,
    bus: Bus,
    data_root: Path,
    caplog: pytest.LogCaptureFixture,
    spec: TableSpec,
    logged: str,
    landed: str,
):
    # the fill comes from the broker's callbacks, which belong to no message: nothing would
    # redeliver a row lost on a failed commit, so execution queues it again until it lands
    caplog.set_level(logging.ERROR)
    walk = {"walk_interval_s": 600.0}  # the entry rests until the test fills it
    async with open_system(config, bus, data_root, orders=walk) as system:
        system.make_neutral("SPY")
        await system.start()
        await system.wait_market_data()
        opening, built, entry = await system.resting_entry("SPY")
        sid = built.strategy_id
        await wait_rows(data_root, "execution", HOLDINGS, lambda r: r["strategy_id"] == sid)

        with unwritable(data_root / "execution" / spec.name):
            system.fill_now(entry)
            await _logged(caplog, logged)
        await opening

        def whole(row: dict) -> bool:
            return row["strategy_id"] == sid and row[landed] == built.quantity

        await wait_rows(data_root, "execution", spec, whole)
        await system.take_profit(sid, Action.CLOSE)
        system.fill_now(await system.sim_order(sid, "exit"))
        await assert_closed_once(system, sid, built.quantity)
