"""`v6 status`: the running services (from `$SRV` discovery) and what they report, then the book
as the services' tables hold it: open strategies with their P&L, and the last decisions."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TextIO

import nats
import nats.errors

from shared.bus.credentials import connect_options
from shared.enums import StrategyStatus

if TYPE_CHECKING:
    from shared.storage import Filter, TableSpec

LAST_DECISIONS = 10


async def _quiet(_error: Exception) -> None:
    """nats-py logs each failed attempt with a traceback; the caller reports the outcome once."""


# give up on a missing server in about a second: nats-py's default retries for two minutes, and
# its max_reconnect_attempts=0 means "forever", not "never"
SHORT_CONNECT: dict[str, Any] = {
    "connect_timeout": 1.0,
    "max_reconnect_attempts": 1,
    "reconnect_time_wait": 0.2,
    "error_cb": _quiet,
}
# a strategy whose exit is working is still held until the exit fills
HOLDING = frozenset({StrategyStatus.OPEN, StrategyStatus.CLOSING})


async def discover(
    url: str, verb: str = "PING", wait: float = 0.5, credentials_dir: str | None = None
) -> list[dict[str, Any]]:
    """Every reply to `$SRV.<verb>` within ``wait`` seconds (one per service instance)."""
    login = connect_options(credentials_dir, "v6-status")
    nc = await nats.connect(url, name="v6-status", **SHORT_CONNECT, **login)
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


async def status(
    url: str,
    out: TextIO = sys.stdout,
    credentials_dir: str | None = None,
    data_root: str | None = None,
) -> int:
    """The services that answer, then (with ``data_root``) the book; 1 when no service answers."""
    try:
        stats = await discover(url, "STATS", credentials_dir=credentials_dir)
    except (OSError, nats.errors.NoServersError) as exc:
        print(f"no NATS server answers on {url}: {exc}", file=out)
        stats = []
    else:
        if not stats:
            print(f"no v6 service answers on {url}", file=out)
    for entry in sorted(stats, key=lambda s: s.get("name", "")):
        print(
            f"{entry.get('name', '?'):<12} {entry.get('version', ''):<8} id={entry.get('id', '')} "
            f"started={entry.get('started', '')}",
            file=out,
        )
        for endpoint in entry.get("endpoints") or []:
            print(_endpoint_line(endpoint), file=out)
    if data_root is not None:
        # the tables are on disk whether or not the services run: print them either way
        print_book(await read_book(data_root), out)
    return 0 if stats else 1


# --- the book, from the services' tables (read-only) ---------------------------------------


@dataclass(frozen=True)
class OpenStrategy:
    strategy_id: str
    symbol: str
    strategy_type: str
    quantity: int
    opened_at: dt.datetime | None
    # from the latest snapshot; None until the monitor has valued it
    unrealized_pnl: float | None = None
    upl_pct: float | None = None
    as_of: dt.datetime | None = None


@dataclass(frozen=True)
class DecisionLine:
    made_at: dt.datetime
    strategy_id: str
    symbol: str
    action: str
    rule: str
    urgency: str
    reason: str


@dataclass(frozen=True)
class BookSummary:
    """What `v6 status` shows of the book: one read of the monitor's and decision's tables."""

    open: list[OpenStrategy]
    closed: int
    realized_pnl: float  # of the closed strategies
    decisions: list[DecisionLine]  # the latest, newest first
    decisions_total: int

    @property
    def unrealized_pnl(self) -> float:
        return sum(s.unrealized_pnl or 0.0 for s in self.open)


async def _rows(
    data_root: str, service: str, spec: TableSpec, filters: list[Filter] | None = None
) -> list[dict[str, Any]]:
    """A service's table, read-only: no rows when the table does not exist (yet)."""
    from deltalake import DeltaTable
    from deltalake.exceptions import TableNotFoundError

    from shared.storage import Table

    uri = f"{data_root.rstrip('/')}/{service}/{spec.name}"
    try:
        # DeltaTable directly, not Table.open: that would create a missing table
        delta = await asyncio.to_thread(DeltaTable, uri)
    except TableNotFoundError:
        return []
    return (await Table(uri, spec, delta).read(filters or [])).to_pylist()


async def read_book(data_root: str, last: int = LAST_DECISIONS) -> BookSummary:
    """Open strategies with their latest P&L (monitor) and the last decisions (decision)."""
    # the services' table declarations: imported here so `v6 health` stays light
    from services.decision.tables import DECISIONS
    from services.monitor.tables import POSITION_SNAPSHOTS, POSITIONS

    positions = await _rows(data_root, "monitor", POSITIONS)
    opened = [p for p in positions if p["status"] in HOLDING]
    closed = [p for p in positions if p["status"] == StrategyStatus.CLOSED]
    latest: dict[str, dict[str, Any]] = {}
    if opened:
        ids = [p["strategy_id"] for p in opened]
        for snap in await _rows(
            data_root, "monitor", POSITION_SNAPSHOTS, [("strategy_id", "in", ids)]
        ):
            seen = latest.get(snap["strategy_id"])
            if seen is None or snap["as_of"] > seen["as_of"]:
                latest[snap["strategy_id"]] = snap
    open_strategies = [
        OpenStrategy(
            strategy_id=p["strategy_id"],
            symbol=p["symbol"],
            strategy_type=p["strategy_type"],
            quantity=p["quantity"],
            opened_at=p["opened_at"],
            unrealized_pnl=latest.get(p["strategy_id"], {}).get("unrealized_pnl"),
            upl_pct=latest.get(p["strategy_id"], {}).get("upl_pct"),
            as_of=latest.get(p["strategy_id"], {}).get("as_of"),
        )
        for p in sorted(opened, key=lambda p: (p["symbol"], p["strategy_id"]))
    ]
    decisions = sorted(
        await _rows(data_root, "decision", DECISIONS), key=lambda d: d["wall_time"], reverse=True
    )
    return BookSummary(
        open=open_strategies,
        closed=len(closed),
        realized_pnl=sum(p["realized_pnl"] or 0.0 for p in closed),
        decisions=[
            DecisionLine(
                made_at=d["wall_time"],
                strategy_id=d["strategy_id"],
                symbol=d["symbol"],
                action=d["action"],
                rule=d["rule"],
                urgency=d["urgency"],
                reason=d["reason"],
            )
            for d in decisions[:last]
        ],
        decisions_total=len(decisions),
    )


def _time(value: dt.datetime | None) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S") if value else "-"


def _strategy_line(s: OpenStrategy) -> str:
    head = f"  {s.strategy_id:<34} {s.symbol:<6} {s.strategy_type:<20} x{s.quantity:<3}"
    if s.unrealized_pnl is None:
        return f"{head} not valued yet"
    pct = f" ({s.upl_pct:+.1%})" if s.upl_pct is not None else ""
    return f"{head} P&L {s.unrealized_pnl:+,.2f}{pct} as of {_time(s.as_of)}"


def print_book(book: BookSummary, out: TextIO = sys.stdout) -> None:
    print(
        f"\nopen strategies: {len(book.open)}  unrealized P&L {book.unrealized_pnl:+,.2f}  "
        f"closed: {book.closed}  realized P&L {book.realized_pnl:+,.2f}",
        file=out,
    )
    for strategy in book.open:
        print(_strategy_line(strategy), file=out)
    print(f"\nlast decisions ({len(book.decisions)} of {book.decisions_total}):", file=out)
    for d in book.decisions:
        print(
            f"  {_time(d.made_at)}  {d.strategy_id:<34} {d.symbol:<6} {d.action.upper():<6} "
            f"{d.rule:<18} {d.urgency:<9} {d.reason}",
            file=out,
        )


async def health(
    url: str, service: str, timeout: float = 2.0, credentials_dir: str | None = None
) -> int:
    """Exit status for a container healthcheck: 0 when the service answers its ping."""
    login = connect_options(credentials_dir, "v6-health")
    try:
        nc = await nats.connect(url, name="v6-health", **SHORT_CONNECT, **login)
    except (OSError, nats.errors.NoServersError):
        return 1
    try:
        await nc.request(f"$SRV.PING.{service}", b"", timeout=timeout)
    except (TimeoutError, nats.errors.NoRespondersError):
        return 1
    finally:
        await nc.close()
    return 0
