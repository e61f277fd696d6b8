"""The service lifecycle: in-process and as real processes (start, discovery, SIGTERM, crash)."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path

import msgspec
import pyarrow as pa
import pytest
from fixtures.processes import REPO, ServiceProcess, config_env, wait_for_ping
from fixtures.recorder import DELIVERIES, RECEIVED
from fixtures.recorder import SERVICE as RECORDER
from fixtures.tables import wait_rows

import services.decision
import services.entry
import services.execution
import services.monitor
from shared.bus import STREAMS, Bus, ConsumerSpec, Delivery
from shared.config import Config
from shared.events import Halt
from shared.service import Runtime, ServiceDef, run_service
from shared.storage import Table, TableSpec
from shared.storage.columns import required

DEFS: dict[str, ServiceDef] = {
    d.name: d
    for d in (
        services.entry.SERVICE,
        services.monitor.SERVICE,
        services.decision.SERVICE,
        services.execution.SERVICE,
    )
}


async def health(bus: Bus, name: str) -> dict:
    msg = await bus.nc.request(f"{bus.subjects.prefix}.svc.{name}.health", b"", timeout=5)
    return json.loads(msg.data)


@pytest.mark.parametrize("name", sorted(DEFS))
async def test_a_service_in_process_opens_its_tables_and_answers_discovery(
    name: str, config: Config, bus: Bus, data_root: Path
) -> None:
    definition = DEFS[name]
    async with run_service(definition, config) as rt:
        ping = json.loads((await bus.nc.request(f"$SRV.PING.{name}", b"", timeout=5)).data)
        status = await health(bus, name)
    assert ping["name"] == name
    assert status["status"] == "ok"
    assert sorted(rt.tables) == sorted(t.name for t in definition.tables)
    for spec in definition.tables:
        assert (data_root / name / spec.name / "_delta_log").is_dir()


async def test_stop_flushes_pending_batches_and_is_idempotent(config: Config) -> None:
    slow = msgspec.structs.replace(
        config, storage=msgspec.structs.replace(config.storage, batch_max_seconds=60.0)
    )
    async with run_service(RECORDER, slow) as rt:
        rt.writers["received"].add({"event_id": "e1", "reason": "pending at stop"})
    await rt.stop()
    assert (await rt.tables["received"].read()).to_pylist() == [
        {"event_id": "e1", "reason": "pending at stop"}
    ]


@pytest.mark.slow
async def test_each_service_process_answers_ping_and_stops_cleanly_on_sigterm(
    config: Config, bus: Bus, nats_url: str, tmp_path: Path
) -> None:
    env = config_env(config)
    procs = {n: ServiceProcess.module(f"services.{n}", env, tmp_path).start() for n in DEFS}
    try:
        for name in DEFS:
            await wait_for_ping(nats_url, name)
            assert (await health(bus, name))["status"] == "ok"
        codes = {name: await proc.stop() for name, proc in procs.items()}
    finally:
        for proc in procs.values():
            await proc.stop()
    assert codes == dict.fromkeys(DEFS, 0), {n: p.output[-2000:] for n, p in procs.items()}
    for proc in procs.values():
        assert '"service stopped"' in proc.output


@pytest.mark.slow
async def test_a_process_killed_before_acking_gets_the_message_again_and_handles_it_once(
    config: Config, bus: Bus, nats_url: str, data_root: Path, tmp_path: Path
) -> None:
    env = config_env(config)
    argv = [sys.executable, str(REPO / "tests/fixtures/recorder.py")]
    first = ServiceProcess(argv, {**env, "RECORDER_DIE_BEFORE_ACK": "1"}, tmp_path / "1.log")
    first.start()
    await wait_for_ping(nats_url, "recorder")
    halt = await bus.publish(Halt(reason="kill -9 test"))
    assert await first.wait() == -signal.SIGKILL

    second = ServiceProcess(argv, env, tmp_path / "2.log").start()
    try:
        deliveries = await wait_rows(data_root, "recorder", DELIVERIES, count=2, timeout=20)
        received = (await Table.open(data_root / "recorder", RECEIVED).read()).to_pylist()
    finally:
        assert await second.stop() == 0, second.output[-2000:]
    assert sorted(deliveries, key=lambda r: r["deliveries"]) == [
        {"event_id": halt.event_id, "deliveries": 1},
        {"event_id": halt.event_id, "deliveries": 2},
    ]
    assert received == [{"event_id": halt.event_id, "reason": "kill -9 test"}]


KEPT = TableSpec(
    name="kept",
    schema=pa.schema([required("event_id", pa.string())]),
    key=("event_id",),
)


async def _wire_keeper(rt: Runtime) -> None:
    async def on_halt(event: Halt, delivery: Delivery) -> None:
        rt.writers["kept"].add({"event_id": event.event_id})  # not awaited: the bus commits

    await rt.bus.consume(
        ConsumerSpec("keeper", "commands", ("cmd.halt",)), on_halt, Halt, rt.flush_writers
    )


async def test_a_batch_is_committed_before_its_messages_are_acked(config: Config, bus: Bus) -> None:
    keeper = ServiceDef("keeper", "test", (KEPT,), _wire_keeper)
    slow = msgspec.structs.replace(
        config, storage=msgspec.structs.replace(config.storage, batch_max_seconds=600.0)
    )
    async with run_service(keeper, slow) as rt:
        sent = [await bus.publish(Halt(reason=str(i))) for i in range(20)]
        stream = next(s for s in STREAMS if s.key == "commands").name(config.nats.subject_prefix)
        for _ in range(100):
            info = await bus.js.consumer_info(stream, "keeper-commands")
            if info.ack_floor.stream_seq == len(sent):
                break
            await asyncio.sleep(0.05)
        rows = await rt.tables["kept"].read()
        commits = rt.writers["kept"].commits
    assert info.ack_floor.stream_seq == len(sent)
    assert sorted(rows.column("event_id").to_pylist()) == sorted(e.event_id for e in sent)
    assert commits < len(sent)
