"""Fixtures: the IB simulator, the execution parts wired to it (``fixtures.execution``), and
an inbox of what the execution service publishes.

A test fails when ib_async's decoder logs an error (it swallows malformed messages).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator

import pytest
from fixtures.execution import SIM, Harness, build, teardown
from fixtures.inbox import Inbox

from services.ibsim.server import Simulator
from shared.bus import Bus


class DecoderErrors(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith(("ib_async.decoder", "ib_async.Decoder")):
            self.records.append(record)


@pytest.fixture(autouse=True)
def decoder_errors() -> Iterator[DecoderErrors]:
    handler = DecoderErrors()
    logging.getLogger().addHandler(handler)
    yield handler
    logging.getLogger().removeHandler(handler)
    assert not handler.records, [r.getMessage() for r in handler.records]


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator(SIM, port=0) as s:
        yield s


@pytest.fixture
async def harness(sim: Simulator) -> AsyncIterator[Harness]:
    h = await build(sim)
    yield h
    await teardown(h)


@pytest.fixture
async def tap(bus: Bus) -> Inbox:
    families = ("order", "exit", "broker", "alert")
    return await Inbox().attach(bus, *(bus.subjects.wildcard(f) for f in families))
