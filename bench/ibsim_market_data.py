"""How much CPU the simulator spends streaming many option lines to a real ib_async client.

Run: ``.venv/bin/python bench/ibsim_market_data.py``. Prints one row per subscription count:
ticks received per second and the process CPU share (simulator and client share one process,
so the figure is an upper bound for the simulator alone).
"""

from __future__ import annotations

import asyncio
import time

from ib_async import IB, Contract

from services.ibsim import Simulator
from shared.config import SimConfig

SECONDS = 3.0


async def measure(lines: int) -> tuple[float, float, float]:
    config = SimConfig(start_time="2026-06-15T10:30:00", tick_interval_s=0.25)
    async with Simulator(config) as sim:
        ib = IB()
        await ib.connectAsync("127.0.0.1", sim.port, clientId=1)
        contracts = [
            c for c in sim.market.instruments.values() if c.is_option and c.symbol == "SPY"
        ][:lines]
        ticks = 0

        def count(tickers: set) -> None:
            nonlocal ticks
            ticks += len(tickers)

        ib.pendingTickersEvent += count
        for inst in contracts:
            ib.reqMktData(Contract(conId=inst.con_id, exchange="SMART"))
        await asyncio.sleep(1.0)  # initial snapshots
        ticks = 0
        cpu0, wall0 = time.process_time(), time.perf_counter()
        await asyncio.sleep(SECONDS)
        cpu = time.process_time() - cpu0
        wall = time.perf_counter() - wall0
        ib.disconnect()
    return ticks / wall, 100 * cpu / wall, 1000 * cpu / (wall / config.tick_interval_s)


async def main() -> None:
    print(f"{'lines':>6} {'ticker updates/s':>17} {'cpu %':>6} {'ms cpu/tick':>12}")
    for lines in (10, 100, 1000, 3000):
        rate, cpu, per_tick = await measure(lines)
        print(f"{lines:>6} {rate:>17.0f} {cpu:>6.1f} {per_tick:>12.1f}")


if __name__ == "__main__":
    asyncio.run(main())
