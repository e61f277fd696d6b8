"""``python -m services.ibsim --port 4002 [--seed N] [--speed X] [--nats-url URL --control]``.

On a secured server the control channel logs in as the ibsim user from the ``nats`` settings
(``V6__NATS__CREDENTIALS_FILE``, as `v6 up` and the containers give it), not from the URL.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
from typing import Any

import msgspec

from services.ibsim.control import CONTROL_CONNECTION
from services.ibsim.server import Simulator
from shared.bus.credentials import login_options
from shared.config import SimConfig, load_config


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="ibsim", description="IB gateway simulator")
    parser.add_argument("--config", help="v6 TOML config (its [sim] section is used)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int)
    parser.add_argument("--seed", type=int)
    parser.add_argument("--speed", type=float, help="simulated seconds per wall second")
    parser.add_argument("--start-time", help="ISO start time (naive = New York)")
    parser.add_argument("--nats-url", help="NATS server for the control channel")
    parser.add_argument("--control", action="store_true", help="enable v6.sim.<verb> control")
    parser.add_argument("--log-level", default="INFO")
    return parser.parse_args(argv)


def build_config(args: argparse.Namespace, base: SimConfig | None = None) -> SimConfig:
    """The [sim] settings (of ``base``, else of the config file) under the command line's."""
    overrides = {
        "port": args.port,
        "seed": args.seed,
        "time_speed": args.speed,
        "start_time": args.start_time,
        "control_enabled": True if args.control else None,
    }
    changes = {k: v for k, v in overrides.items() if v is not None}
    sim = base if base is not None else load_config(args.config).sim
    return msgspec.structs.replace(sim, **changes)


async def run(
    config: SimConfig, host: str, nats_url: str | None, nats_login: dict[str, Any]
) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    sim = Simulator(config, host=host, port=config.port, nats_url=nats_url, nats_login=nats_login)
    await sim.serve_forever(stop)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(name)s %(message)s")
    settings = load_config(args.config)
    config = build_config(args, settings.sim)
    if config.control_enabled and not args.nats_url:
        logging.getLogger(__name__).warning("--control needs --nats-url; control is off")
    login = login_options(settings.nats, CONTROL_CONNECTION) if config.control_enabled else {}
    asyncio.run(run(config, args.host, args.nats_url, login))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
