"""The fault matrix's harness: the whole system (``fixtures.system``) on a NATS server of the
test's own when the fault is the server, services as killable subprocesses, and the one check
every fault test ends with: no event that moves money was lost or applied twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import msgspec
from fixtures.system import System, open_system, table_rows

from services.execution.tables import EXITS, FILLS
from services.ibsim.orders import natural_prices
from services.monitor.tables import POSITIONS
from shared.bus import STREAMS, connect, consumer, ensure_streams
from shared.config import Config
from shared.enums import Action, ExitResult
from shared.events import DecisionMade


# every section a service reads; the child gets them as V6__SECTION__KEY variables
def on_server(config: Config, url: str, **nats: Any) -> Config:
    """``config`` pointed at another NATS (file storage: what a server restart must keep)."""
    return msgspec.structs.replace(
        config, nats=msgspec.structs.replace(config.nats, url=url, storage="file", **nats)
    )


@contextlib.asynccontextmanager
async def system_on(config: Config, data_root: Path, **sections: Any) -> AsyncIterator[System]:
    """The system on ``config.nats`` with the test's own connection to it."""
    bus = await connect(config.nats, "test")
    try:
        await ensure_streams(bus.js, config.nats)
        async with open_system(config, bus, data_root, **sections) as system:
            yield system
    finally:
        await bus.close(grace_s=2.0)


async def take_profit(system: System, strategy_id: str) -> DecisionMade:
    """IV collapses and days pass: the condor has earned most of its credit; the exit decision."""
    system.sim.market.shock_iv(-0.6)
    system.sim.market.advance(dt.timedelta(days=3))
    decision = await system.inbox.wait_for(
        DecisionMade,
        lambda d: d.strategy_id == strategy_id and d.action is not Action.HOLD,
        timeout=30,
    )
    assert decision.action is Action.CLOSE, decision
    return decision


async def wait_rows(
    system: System, service: str, spec: Any, where: Any, count: int = 1, timeout: float = 40.0
) -> list[dict[str, Any]]:
    """Rows of a service's table matching ``where``, once there are ``count`` of them."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        rows = [r for r in await table_rows(system.data_root, service, spec) if where(r)]
        if len(rows) >= count or loop.time() > deadline:
            return rows
        await asyncio.sleep(0.2)


async def assert_closed_once(system: System, strategy_id: str, quantity: int) -> None:
    """The strategy was entered once and closed once, and every fill recorded exactly once:
    counted at the simulator (orders by ref, executions) and in the services' tables."""

    def closes(r: dict[str, Any]) -> bool:
        return r["strategy_id"] == strategy_id and r["result"] == ExitResult.CLOSED.value

    await wait_rows(system, "execution", EXITS, closes)
    await asyncio.sleep(1.5)  # room for a duplicate to show up, if there were one
    closed = await wait_rows(system, "execution", EXITS, closes, timeout=0)
    assert len(closed) == 1, closed

    refs = Counter(o.order_ref for o in system.sim.orders)
    assert all(n == 1 for n in refs.values()), f"an order ref reached the simulator twice: {refs}"
    purposes = Counter(o.order_ref.split(":")[2] for o in system.orders_for(strategy_id))
    assert purposes == {"entry": 1, "exit": 1}, purposes

    # one fill row per execution the simulator made (the combo's own execution), no more
    sim_fills = {
        e.exec_id
        for o in system.orders_for(strategy_id)
        for e in o.executions
        if e.is_combo_summary
    }
    rows = [
        r
        for r in await table_rows(system.data_root, "execution", FILLS)
        if r["strategy_id"] == strategy_id
    ]
    assert sorted(r["exec_id"] for r in rows) == sorted(sim_fills), (rows, sim_fills)
    for order in system.orders_for(strategy_id):
        recorded = sum(r["quantity"] for r in rows if r["order_ref"] == order.order_ref)
        assert recorded == order.filled == quantity, (order.order_ref, recorded, order.filled)

    (position,) = [
        r
        for r in await table_rows(system.data_root, "monitor", POSITIONS)
        if r["strategy_id"] == strategy_id
    ]
    assert position["status"] == "closed", position
    assert len(json.loads(position["exec_ids"])) == len(set(json.loads(position["exec_ids"])))


async def sim_order(system: System, strategy_id: str, purpose: str, timeout: float = 30.0) -> Any:
    """The order of ``purpose`` the simulator received for a strategy, once it has arrived."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        found = [o for o in system.orders_for(strategy_id) if f":{purpose}:" in o.order_ref]
        if found:
            return found[0]
        assert loop.time() < deadline, f"no {purpose} order for {strategy_id} at the simulator"
        await asyncio.sleep(0.02)


def fill_now(system: System, order: Any) -> None:
    """The market comes to a resting order: its limit moves to the natural price and it fills."""
    natural, _ = natural_prices(system.sim.market, order)
    order.lmt_price = natural
    system.sim.book.check(order)


@contextlib.contextmanager
def unwritable(folder: Path) -> Iterator[None]:
    """Commits to the Delta table in ``folder`` fail until the block ends.

    Tests run as root, where ``chmod a-w`` stops no write; a file in the folder's place does:
    delta-rs cannot write a part file or read the log under it (ENOTDIR), whoever runs it.
    """
    away = folder.with_name(folder.name + ".away")
    folder.rename(away)
    folder.touch()
    try:
        yield
    finally:
        folder.unlink()
        away.rename(folder)


async def wait_acked(system: System, service: str, stream: str, timeout: float = 10.0) -> None:
    """Until ``service``'s durable consumer on ``stream`` has acked everything delivered."""
    spec = consumer(service, stream)
    (stream_spec,) = [s for s in STREAMS if s.key == stream]
    name = stream_spec.name(system.config.nats.subject_prefix)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        info = await system.bus.js.consumer_info(name, spec.durable)
        if info.num_ack_pending == 0 and info.num_pending == 0:
            return
        assert loop.time() < deadline, f"{spec.durable} still has unacked messages: {info}"
        await asyncio.sleep(0.1)
