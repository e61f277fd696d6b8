"""`v6 up`: the whole system on one machine with embedded defaults.

Starts a nats-server with JetStream (unless ``V6_NATS_URL`` names one), the IB simulator (unless
``sim.enabled`` is false, e.g. against a real gateway) and the four services as child processes,
prefixes their log lines with the child's name, restarts a child that dies with back-off, and on
Ctrl-C/SIGTERM stops them in reverse order (services first, so their last events still reach
NATS, then the simulator, then NATS).

With ``nats.auth`` (the default) the launched nats-server runs the generated users of
``shared/bus/permissions.py``: credentials go to ``<data_root>/secrets`` (0600), the admin
creates every stream and consumer before the services start, and each child logs in as itself:
it is handed the path of its own login file (``nats.credentials_file``), never the folder, the
admin's login or a password in its environment or command line. The data root is 0700 and
everything the supervisor and its children create is their owner's only (``keep_private``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import sys
from dataclasses import dataclass, field
from pathlib import Path

import msgspec

from shared.bus import connect, credentials, provision
from shared.bus.permissions import ADMIN, IBSIM
from shared.config import Config
from shared.natsserver import NatsServer
from shared.private import keep_private, private_dir

SERVICES = ("execution", "monitor", "decision", "entry")
NATS_URL_FILE = "nats.url"
# settings a child must not inherit from the supervisor's environment: it gets its own login
INHERITED_LOGINS = ("V6__NATS__CREDENTIALS_DIR", "V6__NATS__CREDENTIALS_FILE")


def _port_free(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


@dataclass
class Child:
    name: str
    argv: list[str]
    env: dict[str, str]
    process: asyncio.subprocess.Process | None = None
    restarts: int = 0
    pumps: list[asyncio.Task[None]] = field(default_factory=list)


class Supervisor:
    def __init__(self, config: Config, *, out: object = sys.stdout) -> None:
        self.config = config
        self.out = out
        self.children: list[Child] = []
        self.nats: NatsServer | None = None
        self.credentials_dir: Path | None = None
        self.stopping = asyncio.Event()
        self._width = 10

    def _say(self, name: str, line: str) -> None:
        print(f"{name:<{self._width}}| {line}", file=self.out, flush=True)  # type: ignore[arg-type]

    async def _pump(self, child: Child, stream: asyncio.StreamReader) -> None:
        while line := await stream.readline():
            self._say(child.name, line.decode(errors="replace").rstrip())

    async def _spawn(self, child: Child) -> None:
        child.process = await asyncio.create_subprocess_exec(
            *child.argv,
            env=child.env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches the supervisor only; it stops children
        )
        assert child.process.stdout is not None
        child.pumps = [asyncio.create_task(self._pump(child, child.process.stdout))]

    async def _watch(self, child: Child) -> None:
        """Restart a child that exits while the system is up, with back-off."""
        while not self.stopping.is_set():
            assert child.process is not None
            code = await child.process.wait()
            if self.stopping.is_set():
                return
            delay = min(2.0**child.restarts, 30.0)
            child.restarts += 1
            self._say("v6", f"{child.name} exited with {code}; restarting in {delay:.0f} s")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), delay)
            if self.stopping.is_set():
                return
            await self._spawn(child)

    def _env(self, nats_url: str, user: str) -> dict[str, str]:
        """The environment of the child that logs in as ``user``."""
        env = {k: v for k, v in os.environ.items() if k not in INHERITED_LOGINS}
        env["V6_NATS_URL"] = nats_url
        if self.credentials_dir is not None:
            login = credentials.login_file(self.credentials_dir, user)
            env["V6__NATS__CREDENTIALS_FILE"] = json.dumps(str(login))
            env["V6__NATS__MANAGE_STREAMS"] = "false"
        env["V6_DATA_ROOT"] = str(self.config.data_root.resolve())
        env["V6__IB__PORT"] = str(self.config.ib.port)
        # the simulator and every service must agree on how fast market time runs
        env["V6__SIM__TIME_SPEED"] = repr(self.config.sim.time_speed)
        if self.config.sim.scenario:
            env["V6__SIM__SCENARIO"] = json.dumps(self.config.sim.scenario)
        env["PYTHONUNBUFFERED"] = "1"
        if self.config.logging.json is None:
            # children write to a pipe; what decides the format is where the supervisor writes
            is_tty = getattr(self.out, "isatty", lambda: False)()
            env.setdefault("V6__LOGGING__JSON", "false" if is_tty else "true")
        return env

    async def start(self) -> str:
        # checked before anything starts, so a refusal leaves nothing running behind
        if self.config.sim.enabled and not _port_free(self.config.ib.host, self.config.ib.port):
            raise SystemExit(
                f"port {self.config.ib.port} is in use: set V6__IB__PORT to a free port"
            )
        keep_private()
        root = private_dir(self.config.data_root)
        nats_url = self.config.nats.url
        self.credentials_dir = self._secrets_dir()
        if nats_url is None:
            nats_url = await self._launch_nats(root)
        (root / NATS_URL_FILE).write_text(nats_url + "\n")
        if self.credentials_dir is not None:
            await self._provision(nats_url)
        python = sys.executable
        if self.config.sim.enabled:
            sim_argv = [
                python, "-m", "services.ibsim",
                "--port", str(self.config.ib.port),
                "--nats-url", nats_url,
            ]  # fmt: skip
            if self.config.sim.control_enabled:
                sim_argv.append("--control")
            self.children.append(Child("ibsim", sim_argv, self._env(nats_url, IBSIM)))
        for name in SERVICES:
            argv = [python, "-m", f"services.{name}"]
            self.children.append(Child(name, argv, self._env(nats_url, name)))
        for child in self.children:
            await self._spawn(child)
            if child.name == "ibsim":
                await self._wait_port(self.config.ib.host, self.config.ib.port)
        return nats_url

    def _secrets_dir(self) -> Path | None:
        """Where the NATS logins are: configured, or generated for the server `v6 up` launches."""
        configured = self.config.nats.credentials_dir
        if configured:
            return Path(os.path.abspath(configured))
        if self.config.nats.url is None and self.config.nats.auth:
            return Path(os.path.abspath(self.config.data_root / credentials.SECRETS_DIR))
        return None

    async def _launch_nats(self, root: Path) -> str:
        store = root / "nats"
        conf = None
        if self.config.nats.auth and self.credentials_dir is not None:
            conf = credentials.generate(
                self.config.nats.subject_prefix, self.credentials_dir, store / credentials.AUTH_CONF
            )
        self.nats = NatsServer(store, config_file=conf, own_session=True)
        await self.nats.__aenter__()
        users = f"users in {self.credentials_dir}" if conf else "no authorization"
        self._say("nats", f"nats-server with JetStream on {self.nats.url} ({users}, store {store})")
        return self.nats.url

    async def _provision(self, nats_url: str) -> None:
        nats_cfg = msgspec.structs.replace(
            self.config.nats, credentials_dir=str(self.credentials_dir), credentials_file=None
        )
        await provision_as_admin(msgspec.structs.replace(self.config, nats=nats_cfg), nats_url)

    async def _wait_port(self, host: str, port: int, timeout: float = 15.0) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            with contextlib.suppress(OSError):
                _, writer = await asyncio.open_connection(host, port)
                writer.close()
                return
            await asyncio.sleep(0.1)
        self._say("v6", f"the simulator is not listening on {port} yet; services will retry")

    async def stop(self, timeout: float = 15.0) -> None:
        self.stopping.set()
        for child in reversed(self.children):
            proc = child.process
            if proc is None or proc.returncode is not None:
                continue
            proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), timeout)
            except TimeoutError:
                self._say("v6", f"{child.name} did not stop in {timeout:.0f} s; killing it")
                proc.kill()
                await proc.wait()
            for pump in child.pumps:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(pump, 1.0)
        if self.nats is not None:
            await self.nats.__aexit__(None, None, None)
            self._say("nats", "stopped")

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await self.start()
        watchers = [asyncio.create_task(self._watch(c)) for c in self.children]
        self._say("v6", "up: `v6 tap` shows the events, `v6 status` the services; Ctrl-C stops")
        await stop.wait()
        self._say("v6", "stopping")
        await self.stop()
        for w in watchers:
            w.cancel()
        return 0


async def provision_as_admin(config: Config, url: str) -> None:
    """Every stream, consumer and the lease bucket, created as the admin: secured services may
    not create them."""
    admin = await connect(config.nats, ADMIN, url)
    try:
        await provision(admin.js, config)
    finally:
        await admin.close(grace_s=1.0)


def write_nats_config(config: Config, out: Path) -> Path:
    """`v6 nats-config --out DIR`: ``DIR/secrets/<user>.json``, ``DIR/v6-auth.conf`` and each
    login alone in ``DIR/logins/<user>/``, the folder a container of that user mounts."""
    secrets_dir = out / credentials.SECRETS_DIR
    conf = credentials.generate(
        config.nats.subject_prefix, secrets_dir, out / credentials.AUTH_CONF
    )
    credentials.split_logins(secrets_dir, out / credentials.LOGINS_DIR)
    return conf


def with_credentials(config: Config) -> Config:
    """A CLI command's config: it logs in with the credentials `v6 up` generated, if any."""
    if config.nats.credentials_dir:
        return config
    generated = Path(config.data_root) / credentials.SECRETS_DIR
    if not generated.is_dir():
        return config
    nats_cfg = msgspec.structs.replace(config.nats, credentials_dir=str(generated))
    return msgspec.structs.replace(config, nats=nats_cfg)


def nats_url_for(config: Config) -> str:
    """The NATS URL a CLI command should use: configured, else the one `v6 up` wrote."""
    if config.nats.url:
        return config.nats.url
    recorded = Path(config.data_root) / NATS_URL_FILE
    if recorded.exists():
        return recorded.read_text().strip()
    return "nats://127.0.0.1:4222"
