"""`v6 up` secures the nats-server it launches: one user per service, private credentials."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import nats
import pytest
from fixtures.processes import discovered
from fixtures.waiting import until

from shared.bus.credentials import AUTH_CONF, connect_options
from shared.natsserver import free_port

SERVICES = {"entry", "monitor", "decision", "execution"}


def _v6(args: list[str], cwd: Path, env: dict[str, str], out: Any) -> subprocess.Popen[bytes]:
    argv = [sys.executable, "-m", "desk.cli.main", *args]
    return subprocess.Popen(argv, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)


async def _anonymous_publish_is_refused(url: str) -> bool:
    errors: list[Exception] = []

    async def on_error(exc: Exception) -> None:
        errors.append(exc)

    nc = await nats.connect(url, error_cb=on_error)
    try:
        await nc.publish("v6.cmd.close_all", b"forged")
        await nc.flush()
        await until(lambda: bool(errors))
    finally:
        await nc.close()
    return "permissions violation" in str(errors[0])


async def _simulator_answers(url: str, secrets: Path, user: str) -> bool:
    nc = await nats.connect(url, **connect_options(secrets, user))
    try:
        reply = await nc.request("v6.sim.set_price", b'{"symbol": "SPY", "price": 600.0}', 2.0)
    except nats.errors.TimeoutError:  # how a forbidden request ends (platform-notes.md)
        return False
    finally:
        await nc.close()
    return bool(json.loads(reply.data)["ok"])


@pytest.mark.slow
async def test_v6_up_runs_each_service_as_its_own_user_and_never_logs_a_password(tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("V6")}
    env["V6__IB__PORT"] = str(free_port())
    env["V6__SIM__CONTROL_ENABLED"] = "true"
    data = tmp_path / "data"
    secrets = data / "secrets"
    log_path = tmp_path / "up.log"
    log = open(log_path, "wb")  # noqa: SIM115 - closed in finally
    up = _v6(["up"], tmp_path, env, log)
    try:
        url_file = data / "nats.url"
        names = await discovered(url_file, SERVICES)
        assert names >= SERVICES, "the four services did not answer $SRV.PING"
        url = url_file.read_text().strip()
        # an operator command through the CLI, which finds the operator's login by itself
        halt = await asyncio.to_thread(_v6(["halt"], tmp_path, env, subprocess.PIPE).communicate)
        assert b"halt sent" in halt[0], halt[0]
        assert await _anonymous_publish_is_refused(url)
        # the simulator's control channel logs in as ibsim and obeys the operator only
        assert await _simulator_answers(url, secrets, "operator")
        assert not await _simulator_answers(url, secrets, "entry")
        up.send_signal(signal.SIGINT)
        assert await asyncio.to_thread(up.wait, 60) == 0
    finally:
        if up.poll() is None:
            up.kill()
        log.close()

    private = [secrets, data / "nats" / AUTH_CONF, *secrets.iterdir()]
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in private}
    assert modes == {p.name: 0o700 if p.is_dir() else 0o600 for p in private}
    server_log = (data / "nats" / "nats-server.log").read_text()
    # every service did its work within its allow-lists: the refusals are the two forgeries
    violations = [line for line in server_log.splitlines() if "Violation" in line]
    assert len(violations) == 2, violations
    assert '"$G/user:discovery" - Publish Violation - Subject "v6.cmd.close_all"' in violations[0]
    assert '"$G/user:entry" - Publish Violation - Subject "v6.sim.set_price"' in violations[1]
    logs = log_path.read_text() + server_log
    passwords = [json.loads(f.read_text())["password"] for f in secrets.glob("*.json")]
    assert len(passwords) == 8  # four services, operator, tap, ibsim, admin
    assert [p for p in passwords if p in logs] == []
