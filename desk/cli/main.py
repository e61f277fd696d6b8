"""The `v6` command: run the system, observe it, and act on it as an operator."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from pathlib import Path

import msgspec

from shared import events
from shared.config import ConfigError, load_config


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="v6", description=__doc__)
    p.add_argument("--config", help="TOML configuration file (default: $V6_CONFIG or built-ins)")
    sub = p.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start NATS, the IB simulator and the four services")
    up.add_argument(
        "--speed",
        type=float,
        default=30.0,
        help="simulated seconds per wall second (default 30: half a trading day in 6.5 min)",
    )
    up.add_argument(
        "--scenario",
        default="demo",
        help="simulator scenario: a TOML path or a shipped name (default demo; 'none' for none)",
    )
    tap = sub.add_parser("tap", help="print every event on the bus, decoded, one line each")
    tap.add_argument("subject", nargs="?", default=None, help="default: <prefix>.>")
    nats_config = sub.add_parser(
        "nats-config", help="generate the NATS users: OUT/v6-auth.conf and OUT/secrets/ (0600)"
    )
    nats_config.add_argument("--out", required=True, help="folder to write into")
    sub.add_parser("provision", help="create every stream and consumer as the NATS admin")
    sub.add_parser("status", help="the running services and their stats")
    health = sub.add_parser("health", help="exit 0 when the named service answers (healthcheck)")
    health.add_argument("service")
    sim = sub.add_parser("ibsim", help="run the IB simulator alone")
    sim.add_argument("rest", nargs=argparse.REMAINDER, help="simulator options (--port 4002 ...)")
    close_all = sub.add_parser("close-all", help="close every open strategy (or one symbol's)")
    close_all.add_argument("symbol", nargs="?")
    halt = sub.add_parser("halt", help="stop new entries at once; exits keep working")
    halt.add_argument("--reason", default="operator halt")
    sub.add_parser("resume", help="allow new entries again")
    evaluate = sub.add_parser("evaluate", help="evaluate entries now (optionally one symbol)")
    evaluate.add_argument("symbol", nargs="?")
    sub.add_parser("snapshot", help="value every open strategy now")
    ack = sub.add_parser("alert-ack", help="acknowledge an alert")
    ack.add_argument("alert_id")
    resolve = sub.add_parser("alert-resolve", help="resolve an alert")
    resolve.add_argument("alert_id")
    return p


def _command(args: argparse.Namespace) -> events.Command:
    match args.command:
        case "close-all":
            return events.CloseAll(symbol=args.symbol)
        case "halt":
            return events.Halt(reason=args.reason)
        case "resume":
            return events.Resume()
        case "evaluate":
            return events.EvaluateEntry(symbol=args.symbol)
        case "snapshot":
            return events.SnapshotNow()
        case "alert-ack":
            return events.AcknowledgeAlert(alert_id=args.alert_id)
        case "alert-resolve":
            return events.ResolveAlert(alert_id=args.alert_id)
    raise AssertionError(args.command)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "ibsim":
        from services.ibsim.__main__ import main as ibsim_main

        return ibsim_main(args.rest)
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(f"v6: {exc}", file=sys.stderr)
        return 2

    from desk.cli.up import (
        Supervisor,
        nats_url_for,
        provision_as_admin,
        with_credentials,
        write_nats_config,
    )

    if args.command == "up":
        scenario = None if args.scenario == "none" else args.scenario
        sim = msgspec.structs.replace(config.sim, time_speed=args.speed, scenario=scenario)
        return asyncio.run(Supervisor(msgspec.structs.replace(config, sim=sim)).run())
    if args.command == "nats-config":
        print(f"wrote {write_nats_config(config, Path(args.out))}")
        return 0
    config = with_credentials(config)
    creds = config.nats.credentials_dir
    match args.command:
        case "provision":
            asyncio.run(provision_as_admin(config, nats_url_for(config)))
            return 0
        case "tap":
            from desk.cli.tap import tap

            subject = args.subject or f"{config.nats.subject_prefix}.>"
            with contextlib.suppress(KeyboardInterrupt):
                asyncio.run(tap(nats_url_for(config), subject, credentials_dir=creds))
            return 0
        case "status":
            from desk.cli.status import status

            url, root = nats_url_for(config), config.storage.data_root
            return asyncio.run(status(url, credentials_dir=creds, data_root=root))
        case "health":
            from desk.cli.status import health

            return asyncio.run(health(nats_url_for(config), args.service, credentials_dir=creds))
    from desk.cli.commands import send

    return asyncio.run(send(config, nats_url_for(config), _command(args)))


if __name__ == "__main__":
    sys.exit(main())
