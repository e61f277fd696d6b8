"""`v6 up` secures the nats-server it launches: one user per service, private credentials."""

from __future__ import annotations

import asyncio
import contextlib
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


def _children(pid: int) -> list[int]:
    found = []
    for stat_file in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):  # a process that just ended
            ppid = int(stat_file.read_text().rsplit(")", 1)[1].split()[1])
            if ppid == pid:
                found.append(int(stat_file.parent.name))
    return found


def _proc(pid: int, what: str) -> list[str]:
    return (Path("/proc") / str(pid) / what).read_bytes().decode().split("\0")


def _assert_each_child_holds_its_own_login_only(up_pid: int, secrets: Path) -> None:
    """No child's environment or command line holds a password, the secrets folder or the
    admin's login: a service and the simulator get the path of their own login file."""
    passwords = [json.loads(f.read_text())["password"] for f in secrets.glob("*.json")]
    logins: dict[str, str | None] = {}
    for pid in _children(up_pid):
        argv, environ = _proc(pid, "cmdline"), _proc(pid, "environ")
        env = dict(e.split("=", 1) for e in environ if "=" in e)
        held = [p for p in passwords if any(p in part for part in (*argv, *environ))]
        assert held == [], argv
        assert "V6__NATS__CREDENTIALS_DIR" not in env, argv
        if "-m" in argv:
            logins[argv[argv.index("-m") + 1]] = env.get("V6__NATS__CREDENTIALS_FILE")
    assert logins == {
        f"services.{name}": json.dumps(str(secrets / f"{user}.json"))
        for name, user in [*((s, s) for s in SERVICES), ("ibsim", "ibsim")]
    }


def _loose(root: Path) -> list[str]:
    """What under ``root`` (itself included) its group or others may read, enter or write."""
    paths = [root, *root.rglob("*")]
    return [str(p) for p in paths if stat.S_IMODE(p.lstat().st_mode) & 0o077]


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
        _assert_each_child_holds_its_own_login_only(up.pid, secrets)
        up.send_signal(signal.SIGINT)
        assert await asyncio.to_thread(up.wait, 60) == 0
    finally:
        if up.poll() is None:
            up.kill()
        log.close()

    private = [secrets, data / "nats" / AUTH_CONF, *secrets.iterdir()]
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in private}
    assert modes == {p.name: 0o700 if p.is_dir() else 0o600 for p in private}
    # the data root, the services' tables and the NATS store: their owner's only
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    assert {log.parts[-3] for log in data.glob("*/*/_delta_log")} == SERVICES
    assert _loose(data) == []
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
