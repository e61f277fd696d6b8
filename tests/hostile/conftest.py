"""The system under hostile input (``fixtures.system``: the IB simulator, chosen services
in-process, an inbox that skips what does not decode), and publishing garbage to it."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import nats.errors
import pytest
from fixtures.inbox import Inbox
from fixtures.system import System
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.bus import Bus
from shared.bus.streams import consumers_of, stream_of
from shared.routes import subscribed_by

EXAMPLES = 40


def subscribed_subjects(service: str) -> list[str]:
    """A concrete subject (relative to the prefix) for everything ``service`` consumes."""
    patterns = [f for spec in consumers_of(service) for f in spec.filter_subjects]
    patterns += subscribed_by(service)  # core subscriptions and the requests it answers
    return [p.replace(">", "FUZZ").replace("*", "FUZZ") for p in patterns]


def draw(strategy: st.SearchStrategy[object], examples: int = EXAMPLES) -> list[object]:
    """``examples`` values drawn by hypothesis (deduplicated, in order).

    The property is checked on the running system after the batch is published, so the
    examples are collected here rather than asserted one by one inside ``@given``.
    """
    drawn: list[object] = []

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def collect(value: object) -> None:
        if value not in drawn:
            drawn.append(value)

    collect()
    return drawn


@dataclass
class Hostile:
    system: System

    @property
    def bus(self) -> Bus:
        return self.system.bus

    @property
    def inbox(self) -> Inbox:
        return self.system.inbox

    def subject(self, relative: str) -> str:
        return f"{self.bus.subjects.prefix}.{relative}"

    async def publish_raw(self, relative: str, payloads: Iterable[bytes]) -> None:
        subject = self.subject(relative)
        in_stream = stream_of(subject, self.bus.subjects.prefix) is not None
        for data in payloads:
            if in_stream:
                await self.bus.js.publish(subject, data)
            else:
                await self.bus.nc.publish(subject, data)
        await self.bus.nc.flush()

    async def all_dead_lettered(self, service: str, payloads: list[bytes]) -> None:
        def missing() -> list[bytes]:
            return [p for p in payloads if p not in self.inbox.dead_letters(service)]

        await self.inbox.wait_until(
            lambda: not missing(), f"{service} dead-letters all {len(payloads)} payloads", 30
        )

    async def all_refused_or_dead_lettered(
        self,
        service: str,
        cases: list[tuple[str, bytes]],
        refused: Callable[[Hostile, str], bool],
    ) -> None:
        """Each (strategy id, payload) case is dead-lettered or refused with a reason."""

        def done() -> bool:
            letters = self.inbox.dead_letters(service)
            return all(data in letters or refused(self, sid) for sid, data in cases)

        await self.inbox.wait_until(
            done, f"{service} dead-letters or refuses all {len(cases)} cases", 30
        )

    async def assert_alive(self, *services: str) -> None:
        """Each service answers ``$SRV.PING`` and its runtime's consumers are still running."""
        for name in services:
            try:
                await self.bus.nc.request(f"$SRV.PING.{name}", b"", timeout=2.0)
            except nats.errors.TimeoutError:
                raise AssertionError(f"{name} does not answer $SRV.PING") from None
            runtime = self.system.services[name]
            assert not runtime.stop_event.is_set(), f"{name} is stopping"
            assert runtime.health()["nats"], f"{name} lost NATS"


@pytest.fixture
def hostile(system: System) -> Hostile:
    return Hostile(system)
