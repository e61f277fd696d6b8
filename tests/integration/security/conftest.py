"""A secured nats-server per test: the generated users, streams and consumers made by the admin."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nats
import pytest
from nats.aio.client import Client

from shared.bus import Bus, connect, credentials, provision
from shared.config import Config, load_config
from shared.natsserver import NatsServer


@dataclass(frozen=True)
class Secured:
    url: str
    secrets: Path
    config: Config  # the secured settings of a service: its login, streams made by the admin


@pytest.fixture
async def secured(tmp_path: Path) -> AsyncIterator[Secured]:
    secrets = tmp_path / "secrets"
    conf = credentials.generate("v6", secrets, tmp_path / "nats" / credentials.AUTH_CONF)
    async with NatsServer(tmp_path / "nats", config_file=conf) as server:
        config = load_config(
            env={},
            overrides={
                "nats": {
                    "url": server.url,
                    "credentials_dir": str(secrets),
                    "manage_streams": False,
                    "storage": "memory",
                    "ack_wait_s": 1.0,
                    "max_deliveries": 3,
                    "retry_base_s": 0.05,
                    "retry_max_s": 0.2,
                },
                "storage": {"data_root": str(tmp_path / "data")},
            },
        )
        admin = await connect(config.nats, "admin")
        await provision(admin.js, config)
        await admin.close(grace_s=1.0)
        yield Secured(server.url, secrets, config)


@pytest.fixture
async def login(secured: Secured) -> AsyncIterator[Callable[[str], Awaitable[Bus]]]:
    """``await login("decision")``: a bus connected as that user, closed after the test."""
    buses: list[Bus] = []

    async def _login(name: str) -> Bus:
        bus = await connect(secured.config.nats, name)
        buses.append(bus)
        return bus

    yield _login
    for bus in buses:
        await bus.close(grace_s=1.0)


@dataclass
class RawClient:
    """A plain nats-py client logged in as one user, recording the server's errors."""

    nc: Client
    errors: list[Exception]


@pytest.fixture
async def raw(secured: Secured) -> AsyncIterator[Callable[[str], Awaitable[RawClient]]]:
    clients: list[Client] = []

    async def _raw(user: str) -> RawClient:
        errors: list[Exception] = []

        async def on_error(exc: Exception) -> None:
            errors.append(exc)

        options: dict[str, Any] = credentials.connect_options(secured.secrets, user)
        nc = await nats.connect(secured.url, error_cb=on_error, **options)
        clients.append(nc)
        return RawClient(nc, errors)

    yield _raw
    for nc in clients:
        await nc.close()
