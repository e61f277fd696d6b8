"""Entry's book: every strategy it built (and each roll replacement), keyed by strategy id.

Rebuilt at start-up from the ``strategies`` table and kept current from execution's order and
exit events, so a restart never forgets a pending or open strategy (which would let a second,
conflicting entry through).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable

from services.entry.lifecycle import (
    ACTIVE_STATUSES,
    Applied,
    Change,
    NotAllowed,
    StrategyRecord,
    apply,
    roll_replacement,
    roll_started,
)
from shared.enums import OrderPurpose, StrategyStatus
from shared.events import Event, OrderPlaced

log = logging.getLogger(__name__)


class EntryBook:
    def __init__(self, records: Iterable[StrategyRecord] = ()) -> None:
        self._records: dict[str, StrategyRecord] = {}
        self._by_signal: dict[str, str] = {}
        for record in records:
            self.put(record)

    def __len__(self) -> int:
        return len(self._records)

    def get(self, strategy_id: str) -> StrategyRecord | None:
        return self._records.get(strategy_id)

    def by_signal(self, signal_id: str) -> StrategyRecord | None:
        """The strategy already built for a signal: one signal never makes two entries."""
        strategy_id = self._by_signal.get(signal_id)
        return self._records[strategy_id] if strategy_id else None

    def put(self, record: StrategyRecord) -> None:
        self._records[record.strategy_id] = record
        if record.strategy.signal_id:
            self._by_signal[record.strategy.signal_id] = record.strategy_id

    def records(self) -> list[StrategyRecord]:
        return list(self._records.values())

    def active(self, symbol: str | None = None) -> list[StrategyRecord]:
        """Pending, open and closing strategies: everything that holds or may hold risk."""
        return [
            r
            for r in self._records.values()
            if r.status in ACTIVE_STATUSES and (symbol is None or r.strategy.symbol == symbol)
        ]

    def pending(self) -> list[StrategyRecord]:
        return [r for r in self._records.values() if r.status is StrategyStatus.PENDING]

    def apply(self, event: Event, at: dt.datetime) -> list[StrategyRecord]:
        """Apply one order/exit event; returns the records it changed (to be persisted)."""
        strategy_id: str | None = getattr(event, "strategy_id", None)
        if strategy_id is None:
            return []
        record = self._records.get(strategy_id)
        if record is not None:
            return self._settle(record, apply(record, event, at), event)
        if not (
            isinstance(event, OrderPlaced)
            and event.purpose is OrderPurpose.ROLL
            and event.rolled_from is not None
        ):
            return []  # not a strategy of ours
        old = self._records.get(event.rolled_from)
        replacement = roll_replacement(event, at, old.strategy if old else None)
        self.put(replacement)
        if old is None:
            return [replacement]
        return [replacement, *self._settle(old, roll_started(old, strategy_id, at), event)]

    def _settle(self, record: StrategyRecord, change: Change, event: Event) -> list[StrategyRecord]:
        if isinstance(change, NotAllowed):
            log.warning(
                "invalid strategy transition not applied",
                extra={
                    "strategy_id": record.strategy_id,
                    "event": type(event).__name__,
                    "event_id": event.event_id,
                    "reason": change.reason,
                },
            )
            return []
        if isinstance(change, Applied):
            self.put(change.record)
            return [change.record]
        return []
