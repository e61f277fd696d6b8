"""The one lifecycle every service follows, so knowing one service is knowing all four.

start: connect the bus, ensure streams, open the service's tables and their batch writers,
register with ``nats.micro`` (``$SRV.PING|INFO|STATS`` and a ``health`` endpoint), then let the
service wire its consumers, subscriptions and timers. stop (reverse, one ``AsyncExitStack``):
stop intake and timers, let running handlers finish (bounded), flush table batches, drain NATS
last so the final events still go out. Signal handlers only set the stop event, and so does
losing the bus (closed for good, or not back within ``nats.max_reconnect_s``): then the process
exits with ``BUS_LOST_EXIT`` for its supervisor to restart it, rather than going on unheard.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, get_args

from nats.errors import NoRespondersError
from nats.micro import Service, add_service
from nats.micro.request import Request

from shared.bus import Bus, connect, consumer, consumers_of, ensure_streams
from shared.bus.client import CoreHandler, Handler
from shared.clock import Clock, MarketClock, WallClock
from shared.config import Config, ConfigError, load_config
from shared.logging import setup_logging
from shared.private import keep_private
from shared.routes import consumed, route_of
from shared.storage import BatchWriter, Table, TableSpec
from shared.subjects import Subjects

log = logging.getLogger(__name__)

STOP_GRACE_S = 10.0
# "temporary failure, try again" (sysexits.h): the supervisor restarts the service
BUS_LOST_EXIT = os.EX_TEMPFAIL


@dataclass(frozen=True)
class ServiceDef:
    """What makes a service: its name, its tables, and the function that wires its handlers."""

    name: str
    description: str
    tables: tuple[TableSpec, ...]
    wire: Callable[[Runtime], Awaitable[None]]
    version: str = "0.1.0"


class Runtime:
    """A running service: its config, clock, bus, tables and writers, and its stop event."""

    def __init__(self, definition: ServiceDef, config: Config, clock: Clock | None = None) -> None:
        self.definition = definition
        self.name = definition.name
        self.config = config
        # market time from the events the bus receives (architecture.md, "Time")
        self.clock: Clock = clock or MarketClock(config.market_speed)
        self.subjects = Subjects(config.nats.subject_prefix)
        self.tables: dict[str, Table] = {}
        self.writers: dict[str, BatchWriter] = {}
        self.stop_event = asyncio.Event()
        # why the bus was lost, if it was: the service stops and exits with BUS_LOST_EXIT
        self.bus_lost: str | None = None
        # the process's exit status: non-zero asks its supervisor to start it again
        self.exit_code = 0
        self._bus: Bus | None = None
        self._timers: list[asyncio.Task[None]] = []
        self._stop_hooks: list[Callable[[], Awaitable[None]]] = []
        self._health_parts: list[Callable[[], dict[str, Any]]] = []
        self._stack = contextlib.AsyncExitStack()
        self._started = False
        self._stopped = False

    @property
    def bus(self) -> Bus:
        if self._bus is None:
            raise RuntimeError(f"{self.name} is not started")
        return self._bus

    # --- what a service's wire() calls ------------------------------------------------------

    async def consume(self, stream: str, handler: Handler, types: Any) -> None:
        """Consume this service's durable consumer on ``stream`` (routed in shared/routes.py).

        ``types`` (one event type or a union) must be the types the route table sends this
        consumer: one routed here but not decoded would be dead-lettered, one decoded but not
        routed here never arrives. Handlers queue rows with ``writers[name].add(...)`` and need
        not await them: the batch's rows are committed before its messages are acked.
        """
        decoded, routed = set(get_args(types) or (types,)), set(consumed(self.name, stream))
        if decoded != routed:
            names = sorted(t.__name__ for t in decoded ^ routed)
            raise ValueError(f"{self.name} on {stream}: not as in shared/routes.py: {names}")
        await self.bus.consume(consumer(self.name, stream), handler, types, self.flush_writers)

    def on_stop(self, hook: Callable[[], Awaitable[None]]) -> None:
        """Run ``hook`` at stop, once intake has stopped and before tables flush and NATS
        drains (e.g. disconnect a broker while the last events can still go out)."""
        self._stop_hooks.append(hook)

    def add_health(self, part: Callable[[], dict[str, Any]]) -> None:
        """Add the service's own figures to its health endpoint's report."""
        self._health_parts.append(part)

    async def flush_writers(self) -> None:
        """Commit every table's pending rows (the bus calls it before acking a batch)."""
        await asyncio.gather(*(w.flush() for w in self.writers.values()))

    async def subscribe(self, handler: CoreHandler, types: Any) -> None:
        """Subscribe (core NATS, latest value wins) to the subjects of the route of ``types``,
        which must name this service among its subscribers (shared/routes.py)."""
        decoded = set(get_args(types) or (types,))
        route = route_of(next(iter(decoded)))
        if self.name not in route.subscribers or decoded != set(route.types):
            names = sorted(t.__name__ for t in decoded)
            raise ValueError(f"{self.name} subscribing to {names}: not in shared/routes.py")
        for pattern in route.patterns():
            await self.bus.subscribe(self.subjects.pattern(pattern), handler, types)

    def every(
        self, seconds: float, fn: Callable[[], Awaitable[None]], clock: Clock | None = None
    ) -> None:
        """Run ``fn`` every ``seconds`` of the service clock (market time against the simulator)."""
        self._timers.append(asyncio.create_task(self._tick(seconds, fn, clock or self.clock)))

    async def _tick(self, seconds: float, fn: Callable[[], Awaitable[None]], clock: Clock) -> None:
        while True:
            await clock.sleep(seconds)
            try:
                await fn()
            except Exception:
                log.exception("timer failed", extra={"timer": getattr(fn, "__name__", "?")})

    # --- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        if self._started:
            return
        self._started = True
        stack = self._stack
        cfg = self.config
        self._bus = await connect(cfg.nats, self.name, clock=self.clock, on_lost=self._lose_bus)
        stack.push_async_callback(self._bus.close, STOP_GRACE_S)  # unwound last: drain NATS
        if cfg.nats.manage_streams:  # else the admin provisioned them (`v6 up` with auth)
            await ensure_streams(self._bus.js, cfg.nats)
        await self._open_tables()
        stack.push_async_callback(self._stop_intake)
        await self.definition.wire(self)
        # discoverable and healthy only once wired: whoever waits for the ping may publish at
        # once (the flush in there makes the server know the subscriptions first)
        await self._register_micro()
        log.info(
            "service started",
            extra={"consumers": [c.durable for c in consumers_of(self.name)]},
        )

    async def _open_tables(self) -> None:
        st = self.config.storage
        # a folder per service: a service writes only its own tables
        root = f"{st.data_root.rstrip('/')}/{self.name}"
        for spec in self.definition.tables:
            table = await asyncio.to_thread(Table.open, root, spec)
            writer = BatchWriter(table, st.batch_max_rows, st.batch_max_seconds)
            writer.start()
            self.tables[spec.name] = table
            self.writers[spec.name] = writer
            self._stack.push_async_callback(writer.close)
        if self.tables:
            # maintenance runs on the wall clock: file counts grow with real commits
            self.every(st.compact_every_s, self._compact_all, WallClock())

    async def _compact_all(self) -> None:
        st = self.config.storage
        for table in self.tables.values():
            await table.compact_if_needed(st.compact_min_files, st.vacuum_retention_hours)

    async def _register_micro(self) -> None:
        nc = self.bus.nc
        svc = await add_service(
            nc,
            name=self.name,
            version=self.definition.version,
            description=self.definition.description,
        )

        async def health(request: Request) -> None:
            await request.respond(json.dumps(self.health()).encode())

        await svc.add_endpoint(
            name="health",
            handler=health,
            subject=f"{self.subjects.prefix}.svc.{self.name}.health",
        )
        await nc.flush()
        self._stack.push_async_callback(self._stop_micro, svc)
        if not self.config.nats.secured:  # a secured service may not ask $SRV itself
            await self._answering(nc)

    async def _stop_micro(self, svc: Service) -> None:
        if self.bus_lost is None:  # else there is no connection left to unsubscribe on
            await svc.stop()

    async def _answering(self, nc: Any, attempts: int = 100) -> None:
        """Return once the server routes a ping to this service: right after subscribing, a
        request can still meet "no responders" for a few milliseconds (platform-notes)."""
        for _ in range(attempts):
            try:
                await nc.request(f"$SRV.PING.{self.name}", b"", timeout=1.0)
                return
            except NoRespondersError:
                await asyncio.sleep(0.01)
            except TimeoutError:
                return  # not allowed to ask (a secured bus) or slow: serving is what counts
        log.warning("service does not see itself answer pings yet")

    def health(self) -> dict[str, Any]:
        report = {
            "service": self.name,
            "status": "stopping" if self.stop_event.is_set() else "ok",
            "nats": self.bus.nc.is_connected,
            "tables": sorted(self.tables),
            "time": self.clock.now().isoformat(),
        }
        for part in self._health_parts:
            report.update(part())
        return report

    async def _stop_intake(self) -> None:
        for timer in self._timers:
            timer.cancel()
        await asyncio.gather(*self._timers, return_exceptions=True)
        await self.bus.stop_intake(STOP_GRACE_S)
        for hook in reversed(self._stop_hooks):
            try:
                await hook()
            except Exception:  # one failing hook must not keep the tables from flushing
                log.exception("stop hook failed", extra={"hook": getattr(hook, "__name__", "?")})

    def request_stop(self, exit_code: int = 0) -> None:
        """Stop (the signal handlers call it); a service that cannot go on asks with a
        non-zero ``exit_code``, the status ``main`` exits with."""
        self.exit_code = self.exit_code or exit_code
        self.stop_event.set()

    def _lose_bus(self, reason: str) -> None:
        self.bus_lost = reason  # the lifeline has logged it
        self.request_stop(BUS_LOST_EXIT)

    async def stop(self) -> None:
        if not self._started or self._stopped:
            return
        self._stopped = True
        self.stop_event.set()
        await self._stack.aclose()
        log.info("service stopped")

    async def run(self) -> int:
        """Start, wait for the stop event (SIGTERM/SIGINT set it, so does losing the bus or a
        lease), stop; the exit status: 0, ``BUS_LOST_EXIT`` once the bus was lost, or what the
        service asked for in ``request_stop``."""
        loop = asyncio.get_running_loop()
        signals = (signal.SIGTERM, signal.SIGINT)
        for sig in signals:
            loop.add_signal_handler(sig, self.request_stop)
        try:
            await self.start()
            await self.stop_event.wait()
        finally:
            await self.stop()
            for sig in signals:
                loop.remove_signal_handler(sig)
        return self.exit_code


@contextlib.asynccontextmanager
async def run_service(
    definition: ServiceDef, config: Config, clock: Clock | None = None
) -> AsyncIterator[Runtime]:
    """Run a service in-process (tests): started on enter, stopped on exit."""
    runtime = Runtime(definition, config, clock)
    try:
        await runtime.start()
        yield runtime
    finally:
        await runtime.stop()


def main(definition: ServiceDef) -> int:
    """``python -m services.<name>``: config from ``V6_CONFIG`` and the environment.

    A configuration error exits with status 2 and one line naming the key: an operator reads
    it in a container log, where a traceback would bury it. A lost bus exits with
    ``BUS_LOST_EXIT``. Everything the service writes is its owner's only (``keep_private``).
    """
    keep_private()
    try:
        config = load_config()
    except ConfigError as exc:
        print(f"{definition.name}: {exc}", file=sys.stderr)
        return 2
    setup_logging(config.logging, definition.name)
    return asyncio.run(Runtime(definition, config).run())
