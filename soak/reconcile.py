"""The final check: the simulator's (the broker's) positions against the monitor's book."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import Counter
from pathlib import Path

import msgspec

from services.ibsim.account import Position as BrokerPosition
from services.monitor.tables import POSITIONS
from shared.enums import StrategyStatus
from shared.events import Leg
from shared.storage import Table

# (symbol, right "C"/"P" or "" for stock, strike, expiry YYYYMMDD or "")
Key = tuple[str, str, float, str]
HELD = (StrategyStatus.OPEN.value, StrategyStatus.CLOSING.value)


def broker_contracts(positions: list[BrokerPosition]) -> Counter[Key]:
    held: Counter[Key] = Counter()
    for pos in positions:
        inst = pos.instrument
        held[(inst.symbol, inst.right.upper(), float(inst.strike), inst.expiry)] += int(
            pos.position
        )
    return held


def _leg_key(symbol: str, leg: Leg) -> Key:
    expiry: dt.date = leg.expiry
    return (symbol, leg.right.value.upper(), float(leg.strike), expiry.strftime("%Y%m%d"))


async def book_contracts(data_root: Path) -> tuple[Counter[Key], int]:
    """Contracts per instrument the monitor holds, and how many strategies hold them."""
    table = await asyncio.to_thread(Table.open, f"{data_root}/monitor", POSITIONS)
    rows = (await table.read([("status", "in", list(HELD))])).to_pylist()
    held: Counter[Key] = Counter()
    strategies = 0
    for row in rows:
        if not row["quantity"]:
            continue
        strategies += 1
        for leg in msgspec.json.decode(row["legs"] or "[]", type=list[Leg]):
            held[_leg_key(row["symbol"], leg)] += leg.quantity * row["quantity"]
    return held, strategies


def differences(broker: Counter[Key], book: Counter[Key]) -> list[str]:
    """Every instrument where the two disagree, as "key: broker N, book M"."""
    out = []
    for key in sorted(set(broker) | set(book)):
        if broker[key] != book[key]:
            out.append(f"{key}: broker {broker[key]}, book {book[key]}")
    return out
