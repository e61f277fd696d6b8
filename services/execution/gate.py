"""What may be sent now: halt, and the circuit breaker around order placement (trading.md 3).

The breaker counts order failures within a window; once open it refuses new orders (exits too,
unless ``allow_exits_when_open``) for ``open_s``, then lets one order through (half-open): a
failure re-opens it, a success closes it. Times are seconds of the service's clock.
"""

from __future__ import annotations

from collections import deque

from shared.config import BreakerConfig


class OrderGate:
    def __init__(self, config: BreakerConfig) -> None:
        self.config = config
        self.halted = False
        self._failures: deque[float] = deque()
        self._opened_at: float | None = None

    def is_open(self, now: float) -> bool:
        return self._opened_at is not None and now - self._opened_at < self.config.open_s

    def refusal(self, now: float, *, exit_order: bool) -> str | None:
        """Why an order may not be sent now, or None when it may."""
        if self.halted and not exit_order:
            return "trading halted: new entries are denied"
        if self.is_open(now) and not (exit_order and self.config.allow_exits_when_open):
            return f"circuit breaker open after {self.config.failures} order failures"
        return None

    def record_failure(self, now: float) -> None:
        if self._opened_at is not None and not self.is_open(now):
            self._opened_at = now  # half-open: one failure re-opens
            return
        self._failures.append(now)
        while self._failures and now - self._failures[0] > self.config.window_s:
            self._failures.popleft()
        if len(self._failures) >= self.config.failures:
            self._opened_at = now
            self._failures.clear()

    def record_success(self, now: float) -> None:
        if self._opened_at is not None and not self.is_open(now):
            self._opened_at = None
