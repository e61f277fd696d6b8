"""The pure comparison of the broker's positions with the service's own book.

Positions are keyed by IB contract id and measured in contracts (signed: long positive).
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable, Mapping

import msgspec

from shared.events import Leg


class FindingKind(enum.StrEnum):
    UNKNOWN = "unknown"  # the broker holds it, our book does not
    MISSING = "missing"  # our book holds it, the broker does not
    MISMATCH = "mismatch"  # both hold it, in different quantities


class BrokerPosition(msgspec.Struct, frozen=True, kw_only=True):
    """One position as the broker reports it (signed contracts; IB's expiry text)."""

    account: str
    con_id: int
    symbol: str
    sec_type: str
    right: str | None
    strike: float | None
    expiry: str | None
    position: float
    avg_cost: float
    description: str = ""


class Finding(msgspec.Struct, frozen=True, kw_only=True):
    kind: FindingKind
    con_id: int
    broker_quantity: float
    book_quantity: float
    description: str = ""

    @property
    def detail(self) -> str:
        what = f" ({self.description})" if self.description else ""
        return (
            f"{self.kind.value} position con_id {self.con_id}{what}: "
            f"broker {self.broker_quantity:g}, book {self.book_quantity:g}"
        )


def book_positions(holdings: Iterable[tuple[Iterable[Leg], int]]) -> dict[int, float]:
    """Contracts held per con_id from (legs signed per unit, units held) of open strategies."""
    out: dict[int, float] = {}
    for legs, units in holdings:
        for leg in legs:
            if leg.con_id is not None:
                out[leg.con_id] = out.get(leg.con_id, 0.0) + leg.quantity * units
    return {k: v for k, v in out.items() if v != 0}


def reconcile(
    broker: Mapping[int, float],
    book: Mapping[int, float],
    descriptions: Mapping[int, str] | None = None,
) -> list[Finding]:
    """Every difference between the broker's positions and the book, sorted by con_id."""
    descriptions = descriptions or {}
    findings: list[Finding] = []
    for con_id in sorted(set(broker) | set(book)):
        held = broker.get(con_id, 0.0)
        ours = book.get(con_id, 0.0)
        if math.isclose(held, ours):
            continue
        if ours == 0:
            kind = FindingKind.UNKNOWN
        elif held == 0:
            kind = FindingKind.MISSING
        else:
            kind = FindingKind.MISMATCH
        findings.append(
            Finding(
                kind=kind,
                con_id=con_id,
                broker_quantity=held,
                book_quantity=ours,
                description=descriptions.get(con_id, ""),
            )
        )
    return findings
