"""The `v6` command as a user runs it: `v6 up`, `v6 status`, `v6 tap` and operator commands."""

from __future__ import annotations

import asyncio
import io
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from fixtures.processes import discovered
from fixtures.waiting import until

from desk.cli.commands import send
from desk.cli.tap import tap
from shared.bus import Bus
from shared.config import Config
from shared.events import CloseAll, Halt
from shared.natsserver import free_port

SERVICES = {"entry", "monitor", "decision", "execution"}


@pytest.mark.slow
async def test_v6_up_starts_nats_and_all_services_then_stops_cleanly(tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("V6")}
    env["V6__IB__PORT"] = str(free_port())
    log = open(tmp_path / "up.log", "wb")  # noqa: SIM115 - closed in finally
    up = subprocess.Popen(
        [sys.executable, "-m", "desk.cli.main", "up"],
        cwd=tmp_path,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        url_file = tmp_path / "data" / "nats.url"
        names = await discovered(url_file, SERVICES)
        assert names >= SERVICES
        nats_port = int(url_file.read_text().strip().rsplit(":", 1)[1])
        up.send_signal(signal.SIGINT)
        assert await asyncio.to_thread(up.wait, 60) == 0
    finally:
        if up.poll() is None:
            up.kill()
        log.close()
    output = (tmp_path / "up.log").read_text()
    assert "stopping" in output
    for name in SERVICES:
        assert f"{name:<10}|" in output, f"{name} logged nothing under its prefix"
    # NATS was stopped too: nothing listens on its port any more
    with pytest.raises(OSError):
        await asyncio.open_connection("127.0.0.1", nats_port)


async def test_tap_prints_every_event_decoded_one_line_each(config: Config, bus: Bus):
    out = io.StringIO()
    subject = f"{config.nats.subject_prefix}.>"
    tapping = asyncio.create_task(tap(config.nats.url, subject, out=out, limit=2))
    await asyncio.sleep(0.3)
    await bus.publish(CloseAll(symbol="SPY"))
    await bus.publish(Halt(reason="maintenance"))
    await asyncio.wait_for(tapping, 5)
    lines = out.getvalue().splitlines()
    assert len(lines) == 2
    assert "cmd.close_all CloseAll symbol=SPY" in lines[0]
    assert "cmd.halt Halt reason=maintenance" in lines[1]


async def test_operator_command_lands_on_the_commands_stream(config: Config, bus: Bus):
    received: list = []

    async def on_cmd(event):
        received.append(event)

    await bus.subscribe(f"{config.nats.subject_prefix}.cmd.>", on_cmd)
    assert await send(config, config.nats.url, Halt(reason="news")) == 0
    await until(lambda: received, "the halt command", 5)
    assert isinstance(received[0], Halt)
    assert received[0].reason == "news"
    assert received[0].producer == "v6-cli"
