"""The one function that decides what happens to a consumed message (style.md)."""

from __future__ import annotations

import enum
from dataclasses import dataclass

import msgspec
import nats.errors

from shared.errors import Invalid, Refused, Transient
from shared.events import UnknownSchemaVersion


class Verdict(enum.Enum):
    ACK = "ack"
    NAK = "nak"
    DEAD_LETTER = "dead_letter"


@dataclass(frozen=True)
class Outcome:
    verdict: Verdict
    delay_s: float = 0.0  # redelivery delay of a NAK


ACK = Outcome(Verdict.ACK)
DEAD_LETTER = Outcome(Verdict.DEAD_LETTER)

# can never succeed, whatever the number of tries
UNHANDLEABLE: tuple[type[BaseException], ...] = (
    msgspec.DecodeError,
    msgspec.ValidationError,
    UnknownSchemaVersion,
    Invalid,
)
TRANSIENT: tuple[type[BaseException], ...] = (Transient, TimeoutError, nats.errors.TimeoutError)


def backoff(deliveries: int, base_s: float, max_s: float) -> float:
    """Exponential back-off from the server's delivery count (1 on the first delivery)."""
    return min(max_s, base_s * 2 ** max(0, deliveries - 1))


def decide(
    error: BaseException | None,
    deliveries: int,
    max_deliveries: int,
    base_s: float = 0.5,
    max_s: float = 30.0,
) -> Outcome:
    """ack / nak(delay) / dead letter for a handled (or failed) message.

    ``deliveries`` is the server's count (``msg.metadata.num_delivered``), so a restart does not
    reset the retries. A transient error is retried like any failure but is not a bug; on the
    last delivery both are dead-lettered, because the server would otherwise stop redelivering
    and the message would be lost without a trace.
    """
    if error is None or isinstance(error, Refused):
        return ACK
    if isinstance(error, UNHANDLEABLE):
        return DEAD_LETTER
    if deliveries >= max_deliveries:
        return DEAD_LETTER
    return Outcome(Verdict.NAK, backoff(deliveries, base_s, max_s))


def is_transient(error: BaseException) -> bool:
    return isinstance(error, TRANSIENT)
