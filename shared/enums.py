"""Enumerations shared by the event contract, the domain and the tables.

Every enum decodes case-insensitively (``"CLOSE"``, ``"close"`` and ``"Close"`` are one value):
the earlier system compared raw strings and silently treated ``"IRON_CONDOR"`` as unknown.
"""

from __future__ import annotations

import enum


class _CaseInsensitive(enum.StrEnum):
    @classmethod
    def _missing_(cls, value: object) -> _CaseInsensitive | None:
        if isinstance(value, str):
            folded = value.strip().lower()
            for member in cls:
                if member.value == folded:
                    return member
        return None


class Right(_CaseInsensitive):
    CALL = "c"
    PUT = "p"


class StrategyType(_CaseInsensitive):
    IRON_CONDOR = "iron_condor"
    PUT_CREDIT_SPREAD = "put_credit_spread"
    CALL_CREDIT_SPREAD = "call_credit_spread"
    CALL_DEBIT_SPREAD = "call_debit_spread"
    PUT_DEBIT_SPREAD = "put_debit_spread"
    SHORT_STRANGLE = "short_strangle"
    LONG_STRADDLE = "long_straddle"
    LONG_CALL = "long_call"
    LONG_PUT = "long_put"
    CUSTOM = "custom"


# Strategy kinds by explicit sets, never "anything not in this list" (trading.md section 5).
SINGLE_LEG_TYPES = frozenset({StrategyType.LONG_CALL, StrategyType.LONG_PUT})
CREDIT_MULTI_LEG_TYPES = frozenset(
    {
        StrategyType.IRON_CONDOR,
        StrategyType.PUT_CREDIT_SPREAD,
        StrategyType.CALL_CREDIT_SPREAD,
        StrategyType.SHORT_STRANGLE,
    }
)
DEBIT_MULTI_LEG_TYPES = frozenset(
    {StrategyType.CALL_DEBIT_SPREAD, StrategyType.PUT_DEBIT_SPREAD, StrategyType.LONG_STRADDLE}
)
VERTICAL_TYPES = frozenset(
    {
        StrategyType.PUT_CREDIT_SPREAD,
        StrategyType.CALL_CREDIT_SPREAD,
        StrategyType.CALL_DEBIT_SPREAD,
        StrategyType.PUT_DEBIT_SPREAD,
    }
)


class StrategyStatus(_CaseInsensitive):
    PENDING = "pending"
    OPEN = "open"
    CLOSING = "closing"
    CLOSED = "closed"
    FAILED = "failed"


class Direction(_CaseInsensitive):
    """What an entry signal wants to do with volatility."""

    SELL_PREMIUM = "sell_premium"
    BUY_PREMIUM = "buy_premium"
    NONE = "none"


class Trend(_CaseInsensitive):
    BULLISH = "bullish"
    NEUTRAL = "neutral"
    BEARISH = "bearish"


class Action(_CaseInsensitive):
    CLOSE = "close"
    ROLL = "roll"
    REDUCE = "reduce"
    HOLD = "hold"


class Urgency(_CaseInsensitive):
    IMMEDIATE = "immediate"
    HIGH = "high"
    NORMAL = "normal"
    LOW = "low"


class Severity(_CaseInsensitive):
    CRITICAL = "critical"
    WARNING = "warning"
    INFO = "info"


class AlertStatus(_CaseInsensitive):
    ACTIVE = "active"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"
    DISMISSED = "dismissed"


class OrderPurpose(_CaseInsensitive):
    ENTRY = "entry"
    EXIT = "exit"
    ROLL = "roll"
    REDUCE = "reduce"


class OrderSide(_CaseInsensitive):
    BUY = "buy"
    SELL = "sell"


class OrderStatus(_CaseInsensitive):
    """The project's order states; execution maps IB's status strings onto these."""

    PENDING_SUBMIT = "pending_submit"
    SUBMITTED = "submitted"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELLED = "cancelled"
    REJECTED = "rejected"
    FAILED = "failed"
    DRY_RUN = "dry_run"


TERMINAL_ORDER_STATUSES = frozenset(
    {
        OrderStatus.FILLED,
        OrderStatus.CANCELLED,
        OrderStatus.REJECTED,
        OrderStatus.FAILED,
        OrderStatus.DRY_RUN,
    }
)


class ExitResult(_CaseInsensitive):
    CLOSED = "closed"
    ROLLED = "rolled"
    REDUCED = "reduced"
    FAILED = "failed"


class SecType(_CaseInsensitive):
    STOCK = "stk"
    INDEX = "ind"
    OPTION = "opt"
    BAG = "bag"


class BrokerState(_CaseInsensitive):
    CONNECTED = "connected"
    DISCONNECTED = "disconnected"
    RECONNECTING = "reconnecting"
    SYNCHRONIZED = "synchronized"
