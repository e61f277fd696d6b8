"""The scenario control channel: NATS request/reply on ``<prefix>.sim.<verb>``.

Disabled unless explicitly enabled (``--control`` or ``sim.control_enabled``): it can move
prices and drop connections, so it must never run next to a real gateway.

Request bodies are JSON or msgpack objects (an empty body is ``{}``); every reply is JSON
``{"ok": true, "state": {...}}`` or ``{"ok": false, "error": "..."}``. Verbs and their fields:

=================  =========================================  ==============================
verb               body                                       effect
=================  =========================================  ==============================
set_price          ``{"symbol": "SPY", "price": 590.0}``      set an underlying's price
jump               ``{"symbol": "SPY", "pct": -0.03}``        move it by a fraction
shock_iv           ``{"pct": 0.25, "symbol": "SPY"?}``        scale IV surfaces by 1 + pct
set_vix            ``{"value": 30.0}``                        set VIX
advance            ``{"seconds": 86400}``                     jump simulated time forward
pause / resume     ``{}``                                     stop / restart ticking
disconnect_all     ``{}``                                     drop every client connection
reject_next_order  ``{"reason": "..."}``                      the next new order gets 201
load_scenario      ``{"path": "scenario.toml"}``              play a TOML scenario
state              ``{}``                                     only reply with the state
=================  =========================================  ==============================
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any, Protocol

import msgspec
import nats
from nats.aio.msg import Msg

from services.ibsim.market import Market
from services.ibsim.scenario import Scenario
from shared.subjects import Subjects

log = logging.getLogger(__name__)

# the connection's name, which logs in as the ibsim user (bus/permissions.py)
CONTROL_CONNECTION = "ibsim-control"


class Controlled(Protocol):
    """What the verbs act on: the ``Simulator`` (in ``server``, which starts this channel)."""

    market: Market

    def disconnect_all(self) -> None: ...

    def reject_next_order(self, reason: str = ...) -> None: ...

    def load_scenario(self, path: str | Path) -> Scenario: ...


# a verb acts on the simulator; what it returns is ignored (the reply carries the state)
Handler = Callable[[Controlled, dict[str, Any]], object]

VERBS: dict[str, Handler] = {
    "set_price": lambda sim, b: sim.market.set_price(b["symbol"], float(b["price"])),
    "jump": lambda sim, b: sim.market.jump(b["symbol"], float(b["pct"])),
    "shock_iv": lambda sim, b: sim.market.shock_iv(float(b["pct"]), b.get("symbol")),
    "set_vix": lambda sim, b: sim.market.set_vix(float(b["value"])),
    "advance": lambda sim, b: sim.market.advance(float(b["seconds"])),
    "pause": lambda sim, b: sim.market.pause(),
    "resume": lambda sim, b: sim.market.resume(),
    "disconnect_all": lambda sim, b: sim.disconnect_all(),
    "reject_next_order": lambda sim, b: sim.reject_next_order(
        b.get("reason", "Rejected by the simulator")
    ),
    "load_scenario": lambda sim, b: sim.load_scenario(b["path"]),
    "state": lambda sim, b: None,
}


def decode_body(data: bytes) -> dict[str, Any]:
    """A JSON or msgpack object; empty means no arguments."""
    if not data.strip():
        return {}
    body = json.loads(data) if data.lstrip()[:1] == b"{" else msgspec.msgpack.decode(data)
    if not isinstance(body, dict):
        raise ValueError("the request body must be an object")
    return body


def handle(sim: Controlled, verb: str, data: bytes) -> bytes:
    """Apply one control request and build its reply."""
    try:
        VERBS[verb](sim, decode_body(data))
    except (KeyError, ValueError, TypeError, OSError, msgspec.DecodeError) as exc:
        return json.dumps({"ok": False, "error": f"{type(exc).__name__}: {exc}"}).encode()
    return json.dumps({"ok": True, "state": sim.market.state()}).encode()


def _callback(sim: Controlled, verb: str) -> Callable[[Msg], Awaitable[None]]:
    async def on_request(msg: Msg) -> None:
        reply = handle(sim, verb, msg.data)
        if msg.reply:
            await msg.respond(reply)

    return on_request


async def start_control(
    sim: Controlled, nats_url: str, prefix: str = "v6", login: Mapping[str, Any] | None = None
) -> contextlib.AsyncExitStack:
    """Subscribe every verb; closing the returned stack drains the connection.

    ``login``: the ``nats.connect`` keywords of the ibsim user on a secured server
    (``credentials.login_options``), never part of the URL, which may show in a process list.
    """
    stack = contextlib.AsyncExitStack()
    nc = await nats.connect(nats_url, name=CONTROL_CONNECTION, **(login or {}))
    stack.push_async_callback(nc.drain)
    subjects = Subjects(prefix)
    for verb in VERBS:
        await nc.subscribe(subjects.sim(verb), cb=_callback(sim, verb))
    await nc.flush()
    log.info("ibsim control channel on %s", subjects.sim("*"))
    return stack
