"""The event contract: every message that crosses the bus, and the one codec for all of them.

Rules of evolution (style.md): add fields with defaults at the end of a Struct; never change a
field's type; a breaking change is a new type. Wire messages ignore unknown fields. Where each
type travels (subject, stream, publisher, readers) is declared in ``shared/routes.py``.

Units used everywhere:
- prices are per share (an option premium of 1.25 is 125 currency per contract);
- a leg's ``quantity`` is signed per strategy unit (+1 long, -1 short); a strategy's ``quantity``
  is the number of units (combos);
- net prices (``entry_price``, ``limit_price``, ``mark``) are signed per unit: credit positive,
  debit negative;
- delta is in share equivalents at the position level (option delta x 100 x contracts);
- all times are timezone-aware UTC datetimes.
"""

from __future__ import annotations

import datetime as dt
import math
import uuid
from typing import Annotated, Any, ClassVar, Generic, TypeVar, get_args

import msgspec

from shared.enums import (
    Action,
    AlertStatus,
    BrokerState,
    Direction,
    ExitResult,
    OrderPurpose,
    OrderSide,
    OrderStatus,
    Right,
    SecType,
    Severity,
    StrategyType,
    Trend,
    Urgency,
)

SCHEMA_VERSION = 1
MULTIPLIER = 100

# Ids and symbols become subject tokens (``v6.order.status.<strategy_id>``): letters, digits,
# '-' and '_' only (no dots, spaces or wildcards), and short, or the server closes a connection
# whose control line they overflow. The contract refuses anything else at decode.
TOKEN_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]*$"
StrategyId = Annotated[str, msgspec.Meta(pattern=TOKEN_PATTERN, max_length=64)]
Symbol = Annotated[str, msgspec.Meta(pattern=TOKEN_PATTERN, max_length=16)]
AlertId = Annotated[str, msgspec.Meta(pattern=TOKEN_PATTERN, max_length=128)]
# the largest combo v6 sends is a roll: four legs out, four in
MAX_LEGS = 8


def new_id() -> str:
    return uuid.uuid4().hex


def _utcnow() -> dt.datetime:
    # The default for wall time only; market time is always set by the producer from its clock.
    return dt.datetime.now(dt.UTC)


class Event(msgspec.Struct, frozen=True, tag=True, kw_only=True):
    """Envelope fields every event carries."""

    event_id: str = msgspec.field(default_factory=new_id)
    correlation_id: str = ""
    producer: str = ""
    schema: int = SCHEMA_VERSION
    wall_time: dt.datetime = msgspec.field(default_factory=_utcnow)
    market_time: dt.datetime | None = None


# --- value objects carried inside events -------------------------------------------------------


class Leg(msgspec.Struct, frozen=True, kw_only=True):
    """One option leg of a strategy; ``quantity`` is signed per strategy unit."""

    right: Right
    strike: float
    expiry: dt.date
    quantity: int
    con_id: int | None = None
    price: float | None = None


class Check(msgspec.Struct, frozen=True, kw_only=True):
    """One entry check with its figures, so a rejection says what blocked and by how much."""

    name: str
    passed: bool
    value: float | None = None
    limit: float | None = None
    detail: str = ""


class Quote(msgspec.Struct, frozen=True, kw_only=True):
    """The latest market state of one instrument; option fields are None for underlyings."""

    symbol: Symbol
    sec_type: SecType
    con_id: int | None = None
    right: Right | None = None
    strike: float | None = None
    expiry: dt.date | None = None
    bid: float | None = None
    ask: float | None = None
    last: float | None = None
    close: float | None = None
    iv: float | None = None
    delta: float | None = None
    gamma: float | None = None
    vega: float | None = None
    theta: float | None = None
    und_price: float | None = None
    model_price: float | None = None
    time: dt.datetime | None = None


class LegSnapshot(msgspec.Struct, frozen=True, kw_only=True):
    """A leg valued: price is the per-share mark; Greeks are per share, unsigned by quantity."""

    right: Right
    strike: float
    expiry: dt.date
    quantity: int
    price: float
    delta: float
    gamma: float
    theta: float
    vega: float
    iv: float
    con_id: int | None = None


class LegFill(msgspec.Struct, frozen=True, kw_only=True):
    con_id: int | None
    right: Right
    strike: float
    expiry: dt.date
    side: OrderSide
    quantity: int
    price: float


class Bar(msgspec.Struct, frozen=True, array_like=True):
    """A daily bar; array_like keeps a year of them small on the wire."""

    date: dt.date
    open: float
    high: float
    low: float
    close: float
    volume: float = 0.0


# --- entry -----------------------------------------------------------------------------------


class EntrySignalEvaluated(Event, frozen=True, kw_only=True):
    """Every entry evaluation, accepted or rejected, with each check and its figures."""

    signal_id: str
    symbol: Symbol
    accepted: bool
    direction: Direction
    trend: Trend | None = None
    strategy_type: StrategyType | None = None
    iv_rank: float | None = None
    iv_percentile: float | None = None
    vix: float | None = None
    underlying_price: float | None = None
    checks: list[Check] = []
    reasons: list[str] = []


class StrategyBuilt(Event, frozen=True, kw_only=True):
    """A concrete strategy to open (or a roll's replacement), sent as one combo order."""

    strategy_id: StrategyId
    symbol: Symbol
    strategy_type: StrategyType
    legs: list[Leg]
    quantity: int
    limit_price: float
    worst_price: float
    max_profit: float
    max_loss: float
    take_profit: float | None = None
    stop_loss: float | None = None
    signal_id: str | None = None
    purpose: OrderPurpose = OrderPurpose.ENTRY
    rolled_from: StrategyId | None = None
    oca_group: str | None = None
    bracket: bool = False

    def __post_init__(self) -> None:
        # refused at decode (→ dead letter): no service may act on a strategy it cannot price
        if self.quantity < 1:
            raise ValueError(f"quantity must be at least 1, got {self.quantity}")
        if len(self.legs) > MAX_LEGS:
            raise ValueError(f"at most {MAX_LEGS} legs, got {len(self.legs)}")
        for name in ("limit_price", "worst_price", "take_profit", "stop_loss"):
            value = getattr(self, name)
            if value is not None and not math.isfinite(value):
                raise ValueError(f"{name} must be finite, got {value}")
        for name in ("max_profit", "max_loss"):  # inf is legitimate: an unbounded structure
            if math.isnan(getattr(self, name)):
                raise ValueError(f"{name} must be a number, got nan")
        for i, leg in enumerate(self.legs):
            if not (math.isfinite(leg.strike) and leg.strike > 0):
                raise ValueError(f"legs[{i}].strike must be positive, got {leg.strike}")
            if leg.quantity == 0:
                raise ValueError(f"legs[{i}].quantity must not be zero")


# --- execution -------------------------------------------------------------------------------


class OrderPlaced(Event, frozen=True, kw_only=True):
    strategy_id: StrategyId
    order_ref: str
    purpose: OrderPurpose
    broker_order_id: int
    perm_id: int | None = None
    combo: bool
    side: OrderSide
    quantity: int
    limit_price: float
    legs: list[Leg]
    dry_run: bool = False
    symbol: str = ""
    strategy_type: StrategyType | None = None
    rolled_from: StrategyId | None = None


class OrderStatusChanged(Event, frozen=True, kw_only=True):
    strategy_id: StrategyId
    order_ref: str
    purpose: OrderPurpose
    broker_order_id: int | None
    status: OrderStatus
    filled: int = 0
    remaining: int = 0
    avg_fill_price: float | None = None
    limit_price: float | None = None
    reason: str = ""


class OrderFilled(Event, frozen=True, kw_only=True):
    """One execution of a (combo) order; ``price`` is the signed net price per unit."""

    strategy_id: StrategyId
    order_ref: str
    purpose: OrderPurpose
    broker_order_id: int
    exec_id: str
    side: OrderSide
    quantity: int
    price: float
    cumulative_quantity: int
    total_quantity: int
    legs: list[LegFill]
    commission: float = 0.0
    # the order opens a roll's new strategy (one combo, or the second step): the old id.
    # Together with ``purpose`` it says whether the fill opens or closes (position.fill_opens)
    rolled_from: StrategyId | None = None


class OrderRejected(Event, frozen=True, kw_only=True):
    """The broker said no."""

    strategy_id: StrategyId
    order_ref: str
    purpose: OrderPurpose
    broker_order_id: int | None = None
    code: int | None = None
    reason: str


class OrderDenied(Event, frozen=True, kw_only=True):
    """v6 refused to send (validation, circuit breaker, halt, duplicate)."""

    strategy_id: StrategyId
    order_ref: str
    purpose: OrderPurpose
    reason: str


class ExitExecuted(Event, frozen=True, kw_only=True):
    strategy_id: StrategyId
    action: Action
    result: ExitResult
    decision_id: str | None = None
    rule: str | None = None
    closed_quantity: int = 0
    remaining_quantity: int = 0
    realized_pnl: float | None = None
    new_strategy_id: StrategyId | None = None
    order_refs: list[str] = []
    reason: str = ""
    # the fills (exec ids) the quantities above already count: a consumer that sees one of
    # them after this event (orders and exits are separate streams) must not apply it again
    exec_ids: list[str] = []


class BrokerConnectionChanged(Event, frozen=True, kw_only=True):
    state: BrokerState
    detail: str = ""


class MarketDataUpdated(Event, frozen=True, kw_only=True):
    """Conflated quotes of one underlying's instruments (the underlying, options, or VIX)."""

    symbol: Symbol
    quotes: list[Quote]


class BrokerPositionsReconciled(Event, frozen=True, kw_only=True):
    matched: int
    unknown: int
    missing: int
    mismatched: int
    details: list[str] = []


# --- monitor ---------------------------------------------------------------------------------


class PositionSnapshot(Event, frozen=True, kw_only=True):
    """A valued open strategy: exactly what the decision rules read (architecture.md).

    Every field the rules need has no default, so a snapshot missing one is rejected at decode.
    ``upl_pct`` is unrealized P&L over the entry credit/debit (both in currency): +0.5 means half
    the maximum profit of a credit spread is earned, for credit and debit positions alike.
    """

    strategy_id: StrategyId
    symbol: Symbol
    strategy_type: StrategyType
    legs: list[LegSnapshot]
    quantity: int
    opened_at: dt.datetime
    expiry: dt.date
    dte: int
    entry_price: float
    mark: float
    unrealized_pnl: float
    upl_pct: float
    max_profit: float
    max_loss: float
    delta: float
    gamma: float
    theta: float
    vega: float
    iv: float
    iv_rank: float
    iv_percentile: float
    iv_change_pct: float
    underlying_price: float
    underlying_change_1h: float
    vix: float
    vix_at_entry: float
    portfolio_delta: float
    symbol_delta: float
    as_of: dt.datetime
    stale: bool = False
    roll_possible: bool = True
    exit_working: bool = False

    def __post_init__(self) -> None:
        for name in ("mark", "upl_pct", "underlying_price", "vix", "delta"):
            value = getattr(self, name)
            if not math.isfinite(value):
                raise ValueError(f"{name} must be finite, got {value}")
        if self.quantity <= 0:
            raise ValueError(f"quantity must be positive, got {self.quantity}")


class PositionOpened(Event, frozen=True, kw_only=True):
    strategy_id: StrategyId
    symbol: Symbol
    quantity: int


class PositionClosed(Event, frozen=True, kw_only=True):
    strategy_id: StrategyId
    symbol: Symbol
    realized_pnl: float


# --- decision --------------------------------------------------------------------------------


class DecisionMade(Event, frozen=True, kw_only=True):
    decision_id: str
    strategy_id: StrategyId
    symbol: Symbol
    action: Action
    rule: str
    reason: str
    urgency: Urgency
    close_ratio: float | None = None
    roll_to_dte: int | None = None
    snapshot_as_of: dt.datetime | None = None
    metadata: dict[str, Any] = {}

    def __post_init__(self) -> None:
        ratio = self.close_ratio
        if ratio is not None and not (math.isfinite(ratio) and 0 < ratio <= 1):
            raise ValueError(f"close_ratio must be in (0, 1], got {ratio}")
        if self.roll_to_dte is not None and self.roll_to_dte < 1:
            raise ValueError(f"roll_to_dte must be at least 1, got {self.roll_to_dte}")


class AlertRaised(Event, frozen=True, kw_only=True):
    alert_id: AlertId
    severity: Severity
    title: str
    message: str
    source: str
    strategy_id: StrategyId | None = None
    rule: str | None = None
    status: AlertStatus = AlertStatus.ACTIVE


class AlertStatusChanged(Event, frozen=True, kw_only=True):
    alert_id: AlertId
    status: AlertStatus
    note: str = ""


# --- operator commands (v6.cmd.<verb>) -------------------------------------------------------


class Command(Event, frozen=True, kw_only=True):
    verb: ClassVar[str] = ""


class CloseAll(Command, frozen=True, kw_only=True):
    verb: ClassVar[str] = "close_all"
    symbol: Symbol | None = None


class Halt(Command, frozen=True, kw_only=True):
    verb: ClassVar[str] = "halt"
    reason: str = ""


class Resume(Command, frozen=True, kw_only=True):
    verb: ClassVar[str] = "resume"


class EvaluateEntry(Command, frozen=True, kw_only=True):
    verb: ClassVar[str] = "evaluate_entry"
    symbol: Symbol | None = None


class SnapshotNow(Command, frozen=True, kw_only=True):
    verb: ClassVar[str] = "snapshot_now"


class AcknowledgeAlert(Command, frozen=True, kw_only=True):
    verb: ClassVar[str] = "alert_ack"
    alert_id: AlertId
    note: str = ""


class ResolveAlert(Command, frozen=True, kw_only=True):
    verb: ClassVar[str] = "alert_resolve"
    alert_id: AlertId
    note: str = ""


# --- request/reply between entry and execution (outside every stream) ------------------------


class ChainRequested(Event, frozen=True, kw_only=True):
    symbol: Symbol
    min_dte: int
    max_dte: int
    strikes_around: int = 30


class ChainProvided(Event, frozen=True, kw_only=True):
    symbol: Symbol
    underlying_price: float
    expiries: list[dt.date]
    strikes: list[float]
    quotes: list[Quote]
    error: str = ""


class HistoryRequested(Event, frozen=True, kw_only=True):
    symbol: Symbol
    what: str = "TRADES"  # TRADES | OPTION_IMPLIED_VOLATILITY | MIDPOINT | HISTORICAL_VOLATILITY
    duration: str = "1 Y"


class HistoryProvided(Event, frozen=True, kw_only=True):
    symbol: Symbol
    what: str
    bars: list[Bar]
    error: str = ""


# --- dead letters ----------------------------------------------------------------------------


class DeadLettered(Event, frozen=True, kw_only=True):
    """A message a service could not decode or handle, kept with the reason and raw bytes."""

    service: str
    subject: str
    error_type: str
    error: str
    payload: bytes
    deliveries: int = 1
    headers: dict[str, str] = {}


# --- the codec -------------------------------------------------------------------------------

AnyEvent = (
    EntrySignalEvaluated
    | StrategyBuilt
    | OrderPlaced
    | OrderStatusChanged
    | OrderFilled
    | OrderRejected
    | OrderDenied
    | ExitExecuted
    | BrokerConnectionChanged
    | MarketDataUpdated
    | BrokerPositionsReconciled
    | PositionSnapshot
    | PositionOpened
    | PositionClosed
    | DecisionMade
    | AlertRaised
    | AlertStatusChanged
    | CloseAll
    | Halt
    | Resume
    | EvaluateEntry
    | SnapshotNow
    | AcknowledgeAlert
    | ResolveAlert
    | ChainRequested
    | ChainProvided
    | HistoryRequested
    | HistoryProvided
    | DeadLettered
)
# every concrete event type, as the codec knows them
EVENT_TYPES: tuple[type[Event], ...] = get_args(AnyEvent)

_encoder = msgspec.msgpack.Encoder()


class UnknownSchemaVersion(ValueError):
    pass


def encode(event: Event) -> bytes:
    return _encoder.encode(event)


T = TypeVar("T")


class Codec(Generic[T]):
    """A decoder built once for the union of types a consumer accepts."""

    def __init__(self, types: type[T] | Any = AnyEvent) -> None:
        self._decoder = msgspec.msgpack.Decoder(types)

    def decode(self, payload: bytes) -> T:
        """Decode and validate; raises msgspec.DecodeError/ValidationError or ValueError."""
        event = self._decoder.decode(payload)
        schema = getattr(event, "schema", SCHEMA_VERSION)
        if schema > SCHEMA_VERSION or schema < 1:
            raise UnknownSchemaVersion(f"schema version {schema} is not supported")
        return event


ANY = Codec[Event](AnyEvent)


def decode(payload: bytes) -> Event:
    return ANY.decode(payload)
