"""`v6 status`: the running services (from `$SRV` discovery) and what they report."""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any, TextIO

import nats

from shared.bus.credentials import connect_options


async def discover(
    url: str, verb: str = "PING", wait: float = 0.5, credentials_dir: str | None = None
) -> list[dict[str, Any]]:
    """Every reply to `$SRV.<verb>` within ``wait`` seconds (one per service instance)."""
    nc = await nats.connect(url, name="v6-status", **connect_options(credentials_dir, "v6-status"))
    replies: list[dict[str, Any]] = []
    inbox = nc.new_inbox()

    async def on_reply(msg: Any) -> None:
        if msg.data:  # an empty body is the server's "no responders" while services start
            replies.append(json.loads(msg.data))

    sub = await nc.subscribe(inbox, cb=on_reply)
    await nc.publish(f"$SRV.{verb}", b"", reply=inbox)
    await nc.flush()
    await asyncio.sleep(wait)
    await sub.unsubscribe()
    await nc.drain()
    return replies


def _endpoint_line(endpoint: dict[str, Any]) -> str:
    return (
        f"    {endpoint.get('name', '?'):<16} requests={endpoint.get('num_requests', 0)} "
        f"errors={endpoint.get('num_errors', 0)}"
    )


async def status(url: str, out: TextIO = sys.stdout, credentials_dir: str | None = None) -> int:
    stats = await discover(url, "STATS", credentials_dir=credentials_dir)
    if not stats:
        print(f"no v6 service answers on {url}", file=out)
        return 1
    for entry in sorted(stats, key=lambda s: s.get("name", "")):
        print(
            f"{entry.get('name', '?'):<12} {entry.get('version', ''):<8} id={entry.get('id', '')} "
            f"started={entry.get('started', '')}",
            file=out,
        )
        for endpoint in entry.get("endpoints") or []:
            print(_endpoint_line(endpoint), file=out)
    return 0


async def health(
    url: str, service: str, timeout: float = 2.0, credentials_dir: str | None = None
) -> int:
    """Exit status for a container healthcheck: 0 when the service answers its ping."""
    login = connect_options(credentials_dir, "v6-health")
    nc = await nats.connect(url, name="v6-health", max_reconnect_attempts=0, **login)
    try:
        await nc.request(f"$SRV.PING.{service}", b"", timeout=timeout)
    except (TimeoutError, nats.errors.NoRespondersError):
        return 1
    finally:
        await nc.close()
    return 0
