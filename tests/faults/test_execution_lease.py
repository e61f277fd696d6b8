"""Two execution processes on one simulator and one NATS: one trades, the other stands by without
connecting to IB; the holder killed with SIGKILL, the standby takes over once the lease lapses,
re-attaches the working order by its ref and carries the strategy to its exit, with every order
reaching the simulator once. The killed one, started again, stands by; the active one, its key
taken, exits with status 1."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from fault_harness import assert_closed_once
from fixtures.processes import Child
from fixtures.system import SERVICES, open_system
from fixtures.waiting import until

from services.execution.lease import lease_key
from shared.bus import Bus
from shared.bus.streams import lease_bucket
from shared.config import Config
from shared.enums import Action, BrokerState
from shared.events import BrokerConnectionChanged

pytestmark = pytest.mark.slow

TAKEN = '"msg":"execution lease taken"'
STANDING_BY = '"msg":"execution lease held by another instance: standing by"'


async def _logged(child: Child, line: str, timeout: float) -> None:
    await until(lambda: line in child.process.output, f"{child.name} logging {line}", timeout)


@pytest.fixture
async def executions(tmp_path: Path) -> AsyncIterator[Callable[[Config], list[Child]]]:
    """Two execution processes with the same settings, each with its own log."""
    children: list[Child] = []

    def make(config: Config) -> list[Child]:
        for name in ("first", "second"):
            (tmp_path / name).mkdir()
            children.append(Child("execution", config, tmp_path / name))
        return children

    yield make
    for child in children:
        await child.stop()


async def test_a_killed_executions_standby_takes_over_within_the_lease_and_places_nothing_twice(
    config: Config, bus: Bus, data_root: Path, executions: Callable[[Config], list[Child]]
):
    # the entry rests where it is placed: it is still working when its placer dies
    async with open_system(config, bus, data_root, orders={"walk_interval_s": 600.0}) as system:
        lease = system.config.execution_lease
        holder, standby = executions(system.config)
        system.make_neutral("SPY")
        await system.start(*(n for n in SERVICES if n != "execution"))
        await holder.start()
        await _logged(holder, TAKEN, 10)
        standby.process.start()  # its health endpoint shares a queue group with the holder's
        await _logged(standby, STANDING_BY, 20)
        await system.wait_market_data()
        opening, built, entry = await system.resting_entry("SPY")
        sid = built.strategy_id
        # the standby never connected: one connection to the simulator so far
        assert len(system.inbox.of(BrokerConnectionChanged, state=BrokerState.CONNECTED)) == 1
        assert TAKEN not in standby.process.output

        await holder.kill()  # no release: the standby waits for the lease to lapse
        killed = time.monotonic()
        await _logged(standby, TAKEN, lease.ttl_s + 10)
        taken = time.monotonic() - killed
        await system.inbox.wait_for(
            BrokerConnectionChanged, count=2, state=BrokerState.SYNCHRONIZED, timeout=20
        )
        # the holder's last renewal was at most one period before it died
        assert lease.ttl_s - lease.renew_every_s <= taken <= lease.ttl_s + 2 * lease.renew_every_s

        system.fill_now(entry)  # the re-attached order fills: the standby records it
        await opening
        await system.take_profit(sid, Action.CLOSE)
        system.fill_now(await system.sim_order(sid, "exit"))  # the standby's own exit order
        await assert_closed_once(system, sid, built.quantity)

        holder.process.start()  # what its supervisor does: it comes back as the standby
        await _logged(holder, STANDING_BY, 20)
        # the key changes hands under the active one: it leaves IB and exits with status 1
        kv = await bus.js.key_value(lease_bucket(system.config.nats.subject_prefix))
        await kv.put(lease_key(system.config.ib), b"another instance")
        # it stops placing at its next renewal; leaving IB, flushing its tables and draining NATS
        # can take a while more on a loaded machine
        assert await standby.process.wait(timeout=lease.ttl_s + 30) == 1
        assert len(system.inbox.of(BrokerConnectionChanged, state=BrokerState.CONNECTED)) == 2
    standby.assert_clean()
