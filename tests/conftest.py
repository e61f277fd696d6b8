"""Session-wide real NATS server, a fresh subject prefix per test, temp data roots; the test's
connection, its inbox, the whole system and services as subprocesses (all from ``fixtures``).

pytest puts this folder on ``sys.path`` (a rootdir conftest outside a package), so tests
import their helpers as ``fixtures.<module>``.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import nats
import pytest
from fixtures.inbox import Inbox
from fixtures.processes import Child
from fixtures.system import System, open_system
from nats.js.errors import NotFoundError

from shared.bus import Bus, connect, ensure_streams
from shared.bus.streams import STREAMS
from shared.config import Config, load_config
from shared.natsserver import NatsServer


def _docker_answers() -> bool:
    try:
        import docker

        docker.from_env(timeout=1).ping()
    except Exception:
        return False
    return True


@pytest.fixture(scope="session")
def nats_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A JetStream-enabled server: a container where Docker answers, the local binary otherwise."""
    if _docker_answers():
        from testcontainers.nats import NatsContainer

        with NatsContainer(jetstream=True) as container:
            host, port = container.nats_host_and_port()
            yield f"nats://{host}:{port}"
        return
    with NatsServer(tmp_path_factory.mktemp("nats")) as server:
        yield server.url


@pytest.fixture
async def prefix(nats_url: str) -> AsyncIterator[str]:
    # a prefix per test gives it its own streams and subjects on the shared server
    value = f"t{uuid.uuid4().hex[:10]}"
    yield value
    # and its streams go with it: each reserves its nats.stream_max_bytes of the server's
    # memory up front, which the streams of a few tests together would exhaust
    nc = await nats.connect(nats_url)
    try:
        for spec in STREAMS:
            with contextlib.suppress(NotFoundError):
                await nc.jetstream().delete_stream(spec.name(value))
    finally:
        await nc.close()


@pytest.fixture
def data_root(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    root.mkdir()
    return root


@pytest.fixture
def config(nats_url: str, prefix: str, data_root: Path) -> Config:
    """Fast settings: a 1 s ack wait, short back-offs and a 5 s execution lease, so redelivery
    and restart tests take seconds."""
    return load_config(
        env={},
        overrides={
            "nats": {
                "url": nats_url,
                "subject_prefix": prefix,
                "ack_wait_s": 1.0,
                "max_deliveries": 3,
                "storage": "memory",
                "retry_base_s": 0.05,
                "retry_max_s": 0.2,
            },
            "storage": {"data_root": str(data_root), "batch_max_seconds": 0.05},
            "logging": {"json": True},
            # an execution restarted after a kill -9 stands by until its old lease lapses
            "execution_lease": {"ttl_s": 5.0, "renew_every_s": 0.5},
        },
    )


@pytest.fixture
async def bus(config: Config) -> AsyncIterator[Bus]:
    """A test's own connection (service name "test") with the streams in place."""
    test_bus = await connect(config.nats, "test")
    await ensure_streams(test_bus.js, config.nats)
    yield test_bus
    await test_bus.close(grace_s=2.0)


@pytest.fixture
async def inbox(bus: Bus) -> Inbox:
    """Every event under the test's prefix, as the test's connection sees it."""
    return await Inbox().attach(bus)


@pytest.fixture
async def system(config: Config, bus: Bus, data_root: Path) -> AsyncIterator[System]:
    async with open_system(config, bus, data_root) as system:
        yield system


@pytest.fixture
async def spawn(config: Config, tmp_path: Path) -> AsyncIterator[Callable[..., Child]]:
    """``spawn("monitor")``: a service subprocess (not started) with the test's config, or with
    the ``config`` given (a system's); each one is stopped after the test."""
    children: list[Child] = []

    def make(name: str, with_config: Config | None = None) -> Child:
        children.append(Child(name, with_config or config, tmp_path))
        return children[-1]

    yield make
    for child in children:
        await child.stop()
