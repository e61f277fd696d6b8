"""The fault matrix's harness: the system (``fixtures.system``) on a NATS server of the test's
own when the fault is the server, and the one check every fault test ends with: no event that
moves money was lost or applied twice.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import msgspec
from fixtures.consumers import wait_acked
from fixtures.system import SERVICES, System
from fixtures.tables import table_rows, wait_rows

from services.execution.tables import EXITS, FILLS
from services.monitor.tables import POSITIONS
from shared.config import Config
from shared.enums import ExitResult


def on_server(config: Config, url: str, **nats: Any) -> Config:
    """``config`` pointed at another NATS (file storage: what a server restart must keep)."""
    return msgspec.structs.replace(
        config, nats=msgspec.structs.replace(config.nats, url=url, storage="file", **nats)
    )


async def assert_closed_once(system: System, strategy_id: str, quantity: int) -> None:
    """The strategy was entered once and closed once, and every fill recorded exactly once:
    counted at the simulator (orders by ref, executions) and in the services' tables."""

    def closes(r: dict[str, Any]) -> bool:
        return r["strategy_id"] == strategy_id and r["result"] == ExitResult.CLOSED.value

    await wait_rows(system.data_root, "execution", EXITS, closes)
    for name in SERVICES:  # a duplicate comes from a redelivery: every one is handled now
        await wait_acked(system.bus, name)
    closed = [r for r in await table_rows(system.data_root, "execution", EXITS) if closes(r)]
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
    # the fills and the exits are separate tables, committed by their own batches
    rows = await wait_rows(
        system.data_root,
        "execution",
        FILLS,
        lambda r: r["strategy_id"] == strategy_id,
        count=len(sim_fills),
    )
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


@contextmanager
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
