"""The bus layer over nats-py used by every service."""

from shared.bus import credentials
from shared.bus.client import Bus, Delivery, connect
from shared.bus.outcome import Outcome, Verdict, decide
from shared.bus.streams import (
    CONSUMERS,
    STREAMS,
    ConsumerSpec,
    StreamSpec,
    consumer,
    consumers_of,
    ensure_consumer,
    ensure_streams,
    provision,
    stream_of,
)

__all__ = [
    "CONSUMERS",
    "STREAMS",
    "Bus",
    "ConsumerSpec",
    "Delivery",
    "Outcome",
    "StreamSpec",
    "Verdict",
    "connect",
    "consumer",
    "consumers_of",
    "credentials",
    "decide",
    "ensure_consumer",
    "ensure_streams",
    "provision",
    "stream_of",
]
