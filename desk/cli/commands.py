"""Operator commands (`v6 close-all`, `v6 halt`, ...): one Command event on `v6.cmd.<verb>`.

Commands travel on the JetStream commands stream, so a service that is restarting gets them when
it is back; the CLI waits for the stream's acknowledgement before it reports success.
"""

from __future__ import annotations

import sys

from shared.bus import connect
from shared.config import Config
from shared.events import Command


async def send(config: Config, url: str, command: Command) -> int:
    bus = await connect(config.nats, "v6-cli", url)
    try:
        sent = await bus.publish(command)
    except Exception as exc:  # the operator needs the reason, whatever it is
        print(f"v6: {type(command).verb} not sent ({exc}); is v6 running?", file=sys.stderr)
        return 1
    finally:
        await bus.close()
    print(f"{type(command).verb} sent (event {sent.event_id})")
    return 0
