"""Helpers for the monitor/decision integration tests: event collection, service subprocesses.

Both folders' conftests import the fixtures from here; the event factories live next to the
unit tests and are put on the import path here.
"""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import nats.errors
import pytest
from fixtures.processes import ServiceProcess, config_env

from shared.bus import STREAMS, Bus, consumer
from shared.config import Config
from shared.events import AnyEvent, Codec, Event

ROOT = Path(__file__).resolve().parents[3]
for helpers in ("tests/unit/monitor", "tests/unit/decision"):
    if str(ROOT / helpers) not in sys.path:
        sys.path.insert(0, str(ROOT / helpers))


class Collector:
    """Every event seen on a subject pattern, with waiting for the one a test expects."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self._codec = Codec[Event](AnyEvent)
        self._changed = asyncio.Condition()

    async def attach(self, bus: Bus, subject: str) -> None:
        async def on_msg(msg: Any) -> None:
            self.events.append(self._codec.decode(msg.data))
            async with self._changed:
                self._changed.notify_all()

        await bus.nc.subscribe(subject, cb=on_msg)
        await bus.nc.flush()

    def of(self, kind: type, pred: Callable[[Any], bool] = lambda _e: True) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind) and pred(e)]

    async def wait_for(
        self, kind: type, pred: Callable[[Any], bool] = lambda _e: True, timeout: float = 10.0
    ) -> Any:
        async def found() -> Any:
            async with self._changed:
                while not (hits := self.of(kind, pred)):
                    await self._changed.wait()
                return hits[-1]

        return await asyncio.wait_for(found(), timeout)


@pytest.fixture
async def collector(bus: Bus, config: Config) -> Collector:
    c = Collector()
    await c.attach(bus, f"{config.nats.subject_prefix}.>")
    return c


async def wait_acked(bus: Bus, service: str, stream: str, timeout: float = 10.0) -> None:
    """Until ``service``'s durable consumer on ``stream`` has acked everything: after that a
    restarted service gets nothing redelivered and must rely on its own tables."""
    spec = consumer(service, stream)
    (stream_spec,) = [s for s in STREAMS if s.key == stream]
    name = stream_spec.name(bus.config.subject_prefix)
    deadline = time.monotonic() + timeout
    while True:
        info = await bus.js.consumer_info(name, spec.durable)
        if info.num_ack_pending == 0 and info.num_pending == 0:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"{spec.durable} still has unacked messages: {info}")
        await asyncio.sleep(0.1)


class Service:
    """A service as a real subprocess (``python -m services.<name>``), killable with SIGKILL."""

    def __init__(self, name: str, config: Config, log_dir: Path) -> None:
        self.name = name
        self.config = config
        sections = ("nats", "storage", "logging", "monitor", "decision")
        self.process = ServiceProcess.module(
            f"services.{name}", config_env(config, sections), log_dir
        )

    async def start(self, bus: Bus, timeout: float = 30.0) -> None:
        """Start and wait until its health endpoint (under this test's prefix) answers."""
        self.process.start()
        subject = f"{self.config.nats.subject_prefix}.svc.{self.name}.health"
        deadline = time.monotonic() + timeout
        while True:
            if self.process.process is not None and self.process.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited: {self.process.output[-3000:]}")
            try:
                await bus.nc.request(subject, b"", timeout=0.5)
                return
            except (nats.errors.TimeoutError, nats.errors.NoRespondersError):
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.2)

    async def kill(self) -> None:
        self.process.signal(signal.SIGKILL)  # no flush, no drain
        await self.process.wait()


@pytest.fixture
async def spawn(config: Config, tmp_path: Path) -> AsyncIterator[Callable[[str], Service]]:
    started: list[Service] = []

    def make(name: str) -> Service:
        service = Service(name, config, tmp_path)
        started.append(service)
        return service

    yield make
    for service in started:
        await service.process.stop()
