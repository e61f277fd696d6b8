"""Throughput of the foundation on this machine: prints a table, asserts nothing.

    .venv/bin/python bench/bus_storage.py [N]

Starts its own nats-server and writes Delta tables in a temp folder.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa

from shared.bus import ConsumerSpec, Delivery, connect, ensure_streams
from shared.config import Config, load_config
from shared.events import Halt, MarketDataUpdated
from shared.natsserver import NatsServer
from shared.storage import BatchWriter, Table, TableSpec
from shared.storage.columns import TIMESTAMP, required

ROWS = TableSpec(
    "rows",
    pa.schema([required("event_id", pa.string()), required("time", TIMESTAMP)]),
    key=("event_id",),
)
T0 = dt.datetime(2026, 1, 5, 15, tzinfo=dt.UTC)


def row(i: int) -> dict:
    return {"event_id": f"e{i}", "time": T0}


async def timed(label: str, n: int, coro) -> tuple[str, int, float]:
    start = time.perf_counter()
    await coro
    return label, n, time.perf_counter() - start


async def core_publish(config: Config, n: int) -> None:
    bus = await connect(config.nats, "bench")
    event = MarketDataUpdated(symbol="SPY", quotes=[])
    for _ in range(n):
        await bus.publish(event)
    await bus.nc.flush()
    await bus.close(1)


async def js_publish(config: Config, n: int) -> None:
    bus = await connect(config.nats, "bench")
    await ensure_streams(bus.js, config.nats)
    for _ in range(n):
        await bus.publish(Halt(reason="bench"))
    await bus.close(1)


async def consume_with_commit(config: Config, root: Path, n: int) -> None:
    bus = await connect(config.nats, "bench")
    writer = BatchWriter(Table.open(root, ROWS), max_rows=10_000, max_seconds=600)
    writer.start()
    done = asyncio.Event()
    seen = 0

    async def on_halt(event: Halt, delivery: Delivery) -> None:
        nonlocal seen
        writer.add({"event_id": event.event_id, "time": T0})
        seen += 1
        if seen == n:
            done.set()

    spec = ConsumerSpec("bench", "commands", ("cmd.halt",))
    await bus.consume(spec, on_halt, Halt, writer.flush)
    await done.wait()
    await bus.close(1)
    await writer.close()


async def per_row_commits(root: Path, n: int) -> None:
    table = Table.open(root / "per_row", ROWS)
    for i in range(n):
        await table.insert_new([row(i)])


async def batched(root: Path, n: int) -> None:
    writer = BatchWriter(Table.open(root / "batched", ROWS), max_rows=500, max_seconds=0.5)
    writer.start()
    await asyncio.gather(*(writer.add(row(i)) for i in range(n)))
    await writer.close()


async def main(n: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        async with NatsServer(root / "nats") as server:
            config = load_config(
                env={}, overrides={"nats": {"url": server.url, "subject_prefix": "bench"}}
            )
            results = [
                await timed("core publish (md)", n, core_publish(config, n)),
                await timed("JetStream publish, awaited", n, js_publish(config, n)),
                await timed(
                    "consume + table commit per batch", n, consume_with_commit(config, root, n)
                ),
                await timed("insert_new, one commit per row", 50, per_row_commits(root, 50)),
                await timed("BatchWriter insert_new (500/commit)", n, batched(root, n)),
            ]
    print(f"{'operation':<40} {'n':>7} {'seconds':>8} {'per s':>10}")
    for label, count, seconds in results:
        print(f"{label:<40} {count:>7} {seconds:>8.2f} {count / seconds:>10.0f}")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 2000))
