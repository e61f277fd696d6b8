"""The execution service on a real NATS server against the in-process IB simulator.

``Tap`` records every event the service publishes (orders, exits, broker state, alerts);
``open_condor`` asks the service for a chain over ``rpc.chain`` and builds an iron condor from it
that the simulator fills at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import itertools
from collections.abc import Callable
from typing import Any

import msgspec
from nats.aio.msg import Msg

from shared.bus import Bus
from shared.config import Config, IBConfig, OrdersConfig, UniverseConfig
from shared.domain.chain import OptionChain
from shared.enums import Action, Right, StrategyType, Urgency
from shared.events import (
    ChainProvided,
    ChainRequested,
    DecisionMade,
    Event,
    Leg,
    OrderFilled,
    OrderStatusChanged,
    StrategyBuilt,
    decode,
)

FAST_PACING = 2000  # the simulator enforces no pacing
FAST_ORDERS = OrdersConfig(walk_interval_s=0.2, walk_step_fraction=1 / 3, walk_max_steps=3)
_client_ids = itertools.count(101)


def service_config(config: Config, port: int, symbols: list[str], **sections: Any) -> Config:
    """``config`` (NATS, data root) pointed at the simulator on ``port``, with fast settings."""
    fast: dict[str, Any] = {
        # handling a message may take longer than the fixture's 1 s (IB round trips)
        "nats": msgspec.structs.replace(config.nats, ack_wait_s=5.0),
        "ib": IBConfig(
            port=port,
            client_id=next(_client_ids),
            request_timeout_s=5.0,
            reconnect_min_s=0.1,
            reconnect_max_s=0.5,
            max_messages_per_s=FAST_PACING,
        ),
        "universe": UniverseConfig(symbols=symbols),
        "orders": FAST_ORDERS,
    }
    return msgspec.structs.replace(config, **{**fast, **sections})


class Tap:
    """Every event on the given subject families, decoded, in arrival order."""

    def __init__(self, bus: Bus) -> None:
        self.bus = bus
        self.events: list[Event] = []

    async def start(self, *families: str) -> Tap:
        async def on_msg(msg: Msg) -> None:
            # a request without an event body (health) is not ours to judge
            with contextlib.suppress(Exception):
                self.events.append(decode(msg.data))

        for family in families:
            await self.bus.nc.subscribe(self.bus.subjects.wildcard(family), cb=on_msg)
        await self.bus.nc.flush()
        return self

    def of(self, kind: type, **match: object) -> list[Any]:
        return [
            e
            for e in self.events
            if isinstance(e, kind) and all(getattr(e, k) == v for k, v in match.items())
        ]

    async def wait_for(self, kind: type, timeout_s: float = 10.0, **match: object) -> Any:
        found = await self.wait_until(
            lambda: self.of(kind, **match), f"{kind.__name__} {match}", timeout_s
        )
        return found[-1]

    async def wait_until(self, found: Callable[[], Any], what: str, timeout_s: float = 10.0) -> Any:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while not (result := found()):
            if loop.time() > deadline:
                names = [f"{type(e).__name__}({getattr(e, 'reason', '')})" for e in self.events]
                raise AssertionError(f"no {what} within {timeout_s}s; got {names}")
            await asyncio.sleep(0.02)
        return result


async def chain_of(bus: Bus, symbol: str, min_dte: int = 35, max_dte: int = 60) -> OptionChain:
    reply = await bus.request(
        ChainRequested(symbol=symbol, min_dte=min_dte, max_dte=max_dte, strikes_around=12),
        bus.subjects.rpc_chain(),
        ChainProvided,
        timeout=10.0,
    )
    assert not reply.error, reply.error
    return OptionChain.from_event(reply)


def condor_event(
    chain: OptionChain, sid: str, quantity: int = 1, credit_above_mid: float | None = None
) -> StrategyBuilt:
    """An iron condor on the chain's outer strikes; at the natural price (fills at once) unless
    ``credit_above_mid`` asks that much more than the mid (and never walks below it)."""
    expiry = chain.expiries[0]
    strikes = [float(k) for k in chain.strikes(expiry)]

    def leg(right: Right, strike: float, qty: int) -> Leg:
        quote = chain.quote(expiry, right, strike)
        assert quote is not None
        return Leg(right=right, strike=strike, expiry=expiry, quantity=qty, con_id=quote.con_id)

    legs = [
        leg(Right.PUT, strikes[0], 1),
        leg(Right.PUT, strikes[3], -1),
        leg(Right.CALL, strikes[-4], -1),
        leg(Right.CALL, strikes[-1], 1),
    ]
    combo = chain.combo(legs)
    assert combo is not None
    if credit_above_mid is None:
        limit, worst = combo.natural, combo.natural - 0.10
    else:
        limit = worst = combo.mid + credit_above_mid
    return StrategyBuilt(
        strategy_id=sid,
        correlation_id=f"sig-{sid}",
        symbol=chain.symbol,
        strategy_type=StrategyType.IRON_CONDOR,
        legs=legs,
        quantity=quantity,
        limit_price=round(limit, 2),
        worst_price=round(worst, 2),
        max_profit=100.0,
        max_loss=300.0,
    )


async def open_condor(
    bus: Bus, tap: Tap, symbol: str, sid: str, quantity: int = 1, dte: tuple[int, int] = (35, 60)
) -> None:
    ev = condor_event(await chain_of(bus, symbol, *dte), sid, quantity)
    await bus.publish(ev)
    await tap.wait_for(OrderStatusChanged, strategy_id=sid, status="filled")
    await tap.wait_until(
        lambda: sum(f.quantity for f in tap.of(OrderFilled, strategy_id=sid)) == quantity,
        f"{quantity} filled for {sid}",
    )


def decision(sid: str, symbol: str, action: Action, **kw: Any) -> DecisionMade:
    return DecisionMade(
        decision_id=f"d-{sid}-{action.value}",
        strategy_id=sid,
        symbol=symbol,
        action=action,
        rule="test",
        reason="test",
        urgency=kw.pop("urgency", Urgency.IMMEDIATE),
        market_time=dt.datetime.now(dt.UTC),
        **kw,
    )
