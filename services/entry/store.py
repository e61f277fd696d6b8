"""Entry's tables as the workflow uses them: rows to and from records, the book and the halt.

``strategies`` is upserted by strategy id on every lifecycle change (awaited, so a consumed
order/exit event is acked only once its effect is durable); ``signals`` gets one row per
evaluation through the batch writer; ``controls`` keeps the halt switch across restarts.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import msgspec

from services.entry.book import EntryBook
from services.entry.lifecycle import StrategyRecord
from shared.domain.strategy import Strategy, payoff
from shared.enums import StrategyStatus, StrategyType
from shared.events import EntrySignalEvaluated, Leg
from shared.storage import BatchWriter, Table, struct_to_row

HALT = "halt"
_legs = msgspec.json.Decoder(list[Leg])


class Halting(msgspec.Struct, frozen=True):
    """The halt switch: the reason while halted, and the time of the command that set it.

    Commands can be redelivered out of order; one older than ``changed_at`` is stale.
    """

    reason: str | None = None
    changed_at: dt.datetime | None = None

    def is_newer(self, when: dt.datetime) -> bool:
        return self.changed_at is None or when > self.changed_at


def signal_row(event: EntrySignalEvaluated) -> dict[str, Any]:
    return struct_to_row(event)


def strategy_row(record: StrategyRecord) -> dict[str, Any]:
    s = record.strategy
    return {
        "strategy_id": s.strategy_id,
        "signal_id": s.signal_id,
        "symbol": s.symbol,
        "strategy_type": s.strategy_type.value,
        "status": s.status.value,
        "status_reason": s.status_reason,
        "quantity": s.quantity,
        "filled_quantity": record.filled_quantity,
        "limit_price": s.entry_price,
        "worst_price": s.worst_price,
        "fill_price": record.fill_price,
        "max_profit": s.max_profit,
        "max_loss": s.max_loss,
        "take_profit": s.take_profit,
        "stop_loss": s.stop_loss,
        "delta_per_unit": record.delta_per_unit,
        "gamma_per_unit": record.gamma_per_unit,
        "realized_pnl": record.realized_pnl,
        "rolled_from": s.rolled_from,
        "rolled_into": record.rolled_into,
        "legs": msgspec.json.encode(list(s.legs)).decode(),
        "created_at": s.created_at or record.updated_at,
        "opened_at": s.opened_at,
        "closed_at": s.closed_at,
        "updated_at": record.updated_at or s.created_at,
    }


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    # Arrow hands back UTC timestamps; keep them timezone-aware whatever the reader did
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=dt.UTC)


def strategy_record(row: dict[str, Any]) -> StrategyRecord:
    legs = _legs.decode(row["legs"])
    strategy = Strategy(
        strategy_id=row["strategy_id"],
        symbol=row["symbol"],
        strategy_type=StrategyType(row["strategy_type"]),
        legs=tuple(legs),
        quantity=row["quantity"],
        entry_price=row["limit_price"],
        max_profit=row["max_profit"],
        max_loss=row["max_loss"],
        breakevens=payoff(legs, row["limit_price"]).breakevens,
        take_profit=row["take_profit"],
        stop_loss=row["stop_loss"],
        worst_price=row["worst_price"],
        status=StrategyStatus(row["status"]),
        created_at=_aware(row["created_at"]),
        opened_at=_aware(row["opened_at"]),
        closed_at=_aware(row["closed_at"]),
        status_reason=row["status_reason"] or "",
        signal_id=row["signal_id"],
        rolled_from=row["rolled_from"],
    )
    return StrategyRecord(
        strategy=strategy,
        filled_quantity=row["filled_quantity"],
        fill_price=row["fill_price"],
        realized_pnl=row["realized_pnl"],
        rolled_into=row["rolled_into"],
        delta_per_unit=row["delta_per_unit"],
        gamma_per_unit=row["gamma_per_unit"],
        updated_at=_aware(row["updated_at"]),
    )


class EntryStore:
    """The ``EntryRecorder`` of the workflow over the service's tables."""

    def __init__(self, signals: BatchWriter, strategies: Table, controls: Table) -> None:
        self._signals = signals
        self._strategies = strategies
        self._controls = controls

    async def signal_evaluated(self, event: EntrySignalEvaluated) -> None:
        # batched and not awaited: an evaluation is also on the bus, and waiting for the
        # batch would hold every evaluation up by the batch age
        self._signals.add(signal_row(event))

    async def strategies_changed(self, records: Sequence[StrategyRecord]) -> None:
        if records:
            await self._strategies.upsert([strategy_row(r) for r in records])

    async def load_book(self) -> EntryBook:
        rows = (await self._strategies.read()).to_pylist()
        return EntryBook(strategy_record(row) for row in rows)

    async def load_halt(self) -> Halting:
        """The halt switch as the service last left it."""
        rows = (await self._controls.read([("name", "=", HALT)])).to_pylist()
        if not rows:
            return Halting()
        row = rows[0]
        return Halting(
            reason=(row["reason"] or "halted") if row["active"] else None,
            changed_at=_aware(row["updated_at"]),
        )

    async def save_halt(self, halting: Halting, event_id: str) -> None:
        row = {
            "name": HALT,
            "active": halting.reason is not None,
            "reason": halting.reason or "",
            "event_id": event_id,
            "updated_at": halting.changed_at,
        }
        await self._controls.upsert([row])
