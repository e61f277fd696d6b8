"""Helpers for the monitor/decision integration tests: event collection, service subprocesses.

Both folders' conftests import the fixtures from here; the event factories live next to the
unit tests and are put on the import path here.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import nats.errors
import pytest

from shared.bus import Bus
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


def service_env(config: Config) -> dict[str, str]:
    nats_cfg, storage = config.nats, config.storage
    return {
        **os.environ,
        "V6_NATS_URL": nats_cfg.url or "",
        "V6_DATA_ROOT": storage.data_root,
        "V6__NATS__SUBJECT_PREFIX": nats_cfg.subject_prefix,
        "V6__NATS__STORAGE": f'"{nats_cfg.storage}"',
        "V6__NATS__ACK_WAIT_S": str(nats_cfg.ack_wait_s),
        "V6__STORAGE__BATCH_MAX_SECONDS": str(storage.batch_max_seconds),
        "V6__MONITOR__INTERVAL_S": str(config.monitor.interval_s),
        "V6__MONITOR__REVALUE_MIN_INTERVAL_S": str(config.monitor.revalue_min_interval_s),
        "V6__LOGGING__JSON": "true",
    }


class ServiceProcess:
    """``python -m services.<name>`` as a real subprocess, killable with SIGKILL."""

    def __init__(self, name: str, config: Config, log_path: Path) -> None:
        self.name = name
        self.config = config
        self.log_path = log_path
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self, bus: Bus, timeout: float = 20.0) -> None:
        with self.log_path.open("ab") as log:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                f"services.{self.name}",
                cwd=ROOT,
                env=service_env(self.config),
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
            )
        subject = f"{self.config.nats.subject_prefix}.svc.{self.name}.health"
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.returncode is not None:
                raise RuntimeError(f"{self.name} exited: {self.log_path.read_text()[-3000:]}")
            try:
                await bus.nc.request(subject, b"", timeout=0.5)
                return
            except (nats.errors.TimeoutError, nats.errors.NoRespondersError):
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.2)

    async def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()  # SIGKILL: no flush, no drain
        await self.proc.wait()

    async def stop(self) -> None:
        if self.proc is None or self.proc.returncode is not None:
            return
        self.proc.terminate()
        try:
            await asyncio.wait_for(self.proc.wait(), 10)
        except TimeoutError:
            await self.kill()


@pytest.fixture
async def spawn(config: Config, tmp_path: Path) -> AsyncIterator[Callable[[str], ServiceProcess]]:
    started: list[ServiceProcess] = []

    def make(name: str) -> ServiceProcess:
        proc = ServiceProcess(name, config, tmp_path / f"{name}.log")
        started.append(proc)
        return proc

    yield make
    for proc in started:
        await proc.stop()
