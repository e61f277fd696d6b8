"""Conflation: the latest value per instrument, released at most at a configured rate.

A burst of ticks for one option replaces the pending value instead of queueing, so the bus sees
at most ``max_rate_hz`` updates per symbol whatever the tick rate.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Conflator(Generic[K, V]):
    """Pending values grouped by topic (e.g. symbol), keyed by instrument within the topic."""

    def __init__(self, max_rate_hz: float) -> None:
        if max_rate_hz <= 0:
            raise ValueError("max_rate_hz must be positive")
        self.min_interval_s = 1.0 / max_rate_hz
        self._pending: dict[str, dict[K, V]] = {}
        self._last_flush: dict[str, float] = {}

    def put(self, topic: str, key: K, value: V) -> None:
        self._pending.setdefault(topic, {})[key] = value

    def is_due(self, topic: str, now: float) -> bool:
        """Whether ``topic`` may be released now (its interval has passed since the last)."""
        return now - self._last_flush.get(topic, float("-inf")) >= self.min_interval_s

    def due(self, now: float) -> dict[str, list[V]]:
        """Take the pending values of every topic whose interval has passed (``now`` seconds)."""
        out: dict[str, list[V]] = {}
        for topic in list(self._pending):
            if self.is_due(topic, now):
                out[topic] = list(self._pending.pop(topic).values())
                self._last_flush[topic] = now
        return out

    def __len__(self) -> int:
        return sum(len(v) for v in self._pending.values())
