"""Circuit breaker for order placement (trading.md section 3).

``failures`` order failures within a sliding ``window_s`` open it for ``open_s``: no new orders,
except exits when ``allow_exits_when_open``. Then it is half-open: one trial order goes through;
its success closes the breaker, its failure opens it again for another ``open_s``.

Time is always passed in (market time from the service's clock); the breaker keeps no clock.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections import deque

from shared.config import BreakerConfig


class BreakerState(enum.StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class BreakerEvent(enum.StrEnum):
    TRIP = "trip"  # too many failures within the window
    COOLED = "cooled"  # open_s elapsed
    TRIAL_SUCCEEDED = "trial_succeeded"
    TRIAL_FAILED = "trial_failed"


TRANSITIONS: dict[tuple[BreakerState, BreakerEvent], BreakerState] = {
    (BreakerState.CLOSED, BreakerEvent.TRIP): BreakerState.OPEN,
    (BreakerState.OPEN, BreakerEvent.COOLED): BreakerState.HALF_OPEN,
    (BreakerState.HALF_OPEN, BreakerEvent.TRIAL_SUCCEEDED): BreakerState.CLOSED,
    # one failure in half-open is enough: the fault has not cleared
    (BreakerState.HALF_OPEN, BreakerEvent.TRIAL_FAILED): BreakerState.OPEN,
}


class InvalidBreakerTransition(RuntimeError):
    pass


def next_state(state: BreakerState, event: BreakerEvent) -> BreakerState:
    """The state ``event`` leads to from ``state``; raises if the table has no such move."""
    target = TRANSITIONS.get((state, event))
    if target is None:
        raise InvalidBreakerTransition(f"{event.value} is not valid in {state.value}")
    return target


class CircuitBreaker:
    """Counts order failures and says whether an order may be sent now."""

    def __init__(self, config: BreakerConfig) -> None:
        self._config = config
        self._state = BreakerState.CLOSED
        self._failures: deque[dt.datetime] = deque()
        self._opened_at: dt.datetime | None = None
        self._trial_started: dt.datetime | None = None

    def _transition(self, event: BreakerEvent) -> None:
        self._state = next_state(self._state, event)

    def _open(self, now: dt.datetime, event: BreakerEvent) -> None:
        self._transition(event)
        self._opened_at = now
        self._trial_started = None
        self._failures.clear()

    def _window_failures(self, now: dt.datetime) -> int:
        horizon = now - dt.timedelta(seconds=self._config.window_s)
        while self._failures and self._failures[0] <= horizon:
            self._failures.popleft()
        return len(self._failures)

    def state(self, now: dt.datetime) -> BreakerState:
        """The state at ``now``; an open breaker whose time is up becomes half-open."""
        if (
            self._state is BreakerState.OPEN
            and self._opened_at is not None
            and (now - self._opened_at).total_seconds() >= self._config.open_s
        ):
            self._transition(BreakerEvent.COOLED)
        return self._state

    def reopens_at(self, now: dt.datetime) -> dt.datetime | None:
        """When an open breaker turns half-open; None unless open."""
        if self.state(now) is not BreakerState.OPEN or self._opened_at is None:
            return None
        return self._opened_at + dt.timedelta(seconds=self._config.open_s)

    def allow(self, now: dt.datetime, is_exit: bool = False) -> bool:
        """Whether an order may be sent at ``now``; in half-open this takes the one trial slot.

        Exits pass while open or half-open when ``allow_exits_when_open`` (closing risk is never
        blocked by trouble opening it) and leave the trial slot to a new order. A trial whose
        outcome is never reported frees its slot after ``window_s``.
        """
        state = self.state(now)
        if state is BreakerState.CLOSED:
            return True
        if is_exit and self._config.allow_exits_when_open:
            return True
        if state is BreakerState.OPEN:
            return False
        trial_lost = (
            self._trial_started is not None
            and (now - self._trial_started).total_seconds() >= self._config.window_s
        )
        if self._trial_started is None or trial_lost:
            self._trial_started = now
            return True
        return False

    def record_failure(self, now: dt.datetime) -> BreakerState:
        state = self.state(now)
        if state is BreakerState.HALF_OPEN:
            self._open(now, BreakerEvent.TRIAL_FAILED)
        elif state is BreakerState.CLOSED:
            self._failures.append(now)
            if self._window_failures(now) >= self._config.failures:
                self._open(now, BreakerEvent.TRIP)
        # failures while open (late results of earlier orders, exits) change nothing
        return self._state

    def record_success(self, now: dt.datetime) -> BreakerState:
        if self.state(now) is BreakerState.HALF_OPEN:
            self._transition(BreakerEvent.TRIAL_SUCCEEDED)
            self._trial_started = None
            self._opened_at = None
        return self._state
