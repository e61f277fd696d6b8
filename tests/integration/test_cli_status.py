"""`v6 status` summarises the book from the services' tables: open strategies with the P&L of
their latest snapshot, the realized P&L of closed ones, and the last decisions, newest first."""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import os
from pathlib import Path

from fixtures.events import make

from desk.cli.status import read_book, status
from services.decision.tables import DECISIONS, decision_row
from services.monitor.book import Position
from services.monitor.tables import POSITION_SNAPSHOTS, POSITIONS, position_row, snapshot_row
from shared.enums import Action, Right, StrategyStatus, StrategyType, Urgency
from shared.events import DecisionMade, Leg, PositionSnapshot
from shared.natsserver import free_port
from shared.storage import Table

T0 = dt.datetime(2026, 11, 24, 15, 0, tzinfo=dt.UTC)
EXPIRY = dt.date(2027, 1, 15)
LEGS = [
    Leg(right=Right.PUT, strike=540.0, expiry=EXPIRY, quantity=1),
    Leg(right=Right.PUT, strike=545.0, expiry=EXPIRY, quantity=-1),
    Leg(right=Right.CALL, strike=615.0, expiry=EXPIRY, quantity=-1),
    Leg(right=Right.CALL, strike=620.0, expiry=EXPIRY, quantity=1),
]


def _position(sid: str, symbol: str, status: StrategyStatus, realized: float = 0.0) -> Position:
    return Position(
        strategy_id=sid,
        symbol=symbol,
        strategy_type=StrategyType.IRON_CONDOR,
        legs=LEGS,
        status=status,
        quantity=2,
        entry_price=1.50,
        opened_at=T0,
        realized_pnl=realized,
        updated_at=T0,
    )


def _snapshot(sid: str, minutes: int, pnl: float, pct: float) -> PositionSnapshot:
    return make(
        PositionSnapshot,
        strategy_id=sid,
        symbol="SPY",
        as_of=T0 + dt.timedelta(minutes=minutes),
        unrealized_pnl=pnl,
        upl_pct=pct,
    )


def _decision(n: int, sid: str, action: Action, rule: str) -> DecisionMade:
    return DecisionMade(
        decision_id=f"d-{n}",
        strategy_id=sid,
        symbol="SPY",
        action=action,
        rule=rule,
        reason=f"reason {n}",
        urgency=Urgency.NORMAL,
        wall_time=T0 + dt.timedelta(minutes=n),
    )


async def _write_tables(data_root: Path) -> None:
    positions = Table.open(data_root / "monitor", POSITIONS)
    await positions.upsert(
        position_row(p, T0)
        for p in (
            _position("s-open", "SPY", StrategyStatus.OPEN),
            _position("s-closing", "QQQ", StrategyStatus.CLOSING),
            _position("s-closed", "SPY", StrategyStatus.CLOSED, realized=210.0),
            _position("s-failed", "SPY", StrategyStatus.FAILED),
        )
    )
    snapshots = Table.open(data_root / "monitor", POSITION_SNAPSHOTS)
    await snapshots.append(
        snapshot_row(s)
        for s in (
            _snapshot("s-open", 5, 40.0, 0.13),
            _snapshot("s-open", 10, 90.0, 0.30),  # the latest: this one counts
            _snapshot("s-closed", 10, 200.0, 0.66),
        )
    )
    decisions = Table.open(data_root / "decision", DECISIONS)
    await decisions.append(
        decision_row(d)
        for d in (
            _decision(1, "s-closed", Action.REDUCE, "take_profit"),
            _decision(2, "s-closed", Action.CLOSE, "take_profit"),
            _decision(3, "s-closing", Action.CLOSE, "stop_loss"),
        )
    )


async def test_book_lists_open_strategies_with_their_latest_pnl(data_root: Path):
    await _write_tables(data_root)
    book = await read_book(str(data_root), last=2)

    assert [(s.strategy_id, s.unrealized_pnl) for s in book.open] == [
        ("s-closing", None),  # QQQ sorts first; held until its exit fills, not valued yet
        ("s-open", 90.0),
    ]
    assert book.open[1].upl_pct == 0.30
    assert book.unrealized_pnl == 90.0
    assert (book.closed, book.realized_pnl) == (1, 210.0)
    assert [(d.strategy_id, d.action, d.rule) for d in book.decisions] == [
        ("s-closing", "close", "stop_loss"),
        ("s-closed", "close", "take_profit"),
    ]
    assert book.decisions_total == 3


async def test_status_prints_the_book_even_when_no_service_answers(data_root: Path):
    await _write_tables(data_root)
    out = io.StringIO()
    code = await status(f"nats://127.0.0.1:{free_port()}", out=out, data_root=str(data_root))

    text = out.getvalue()
    assert code == 1  # nothing runs
    assert "open strategies: 2  unrealized P&L +90.00  closed: 1  realized P&L +210.00" in text
    assert "s-open" in text and "P&L +90.00 (+30.0%)" in text
    assert "s-closing" in text and "not valued yet" in text
    assert "last decisions (3 of 3):" in text
    lines = text.splitlines()
    first = next(i for i, line in enumerate(lines) if "stop_loss" in line)
    assert "CLOSE" in lines[first] and "take_profit" in lines[first + 1]


async def test_status_of_an_empty_data_root_creates_no_tables(data_root: Path):
    book = await read_book(str(data_root))

    assert (book.open, book.decisions, book.closed) == ([], [], 0)
    assert await asyncio.to_thread(os.listdir, data_root) == []
