"""Circuit breaker: 5 failures in 60 s open it for 300 s, then one trial decides."""

from __future__ import annotations

import datetime as dt

import pytest

from shared.config import BreakerConfig
from shared.domain.breaker import (
    TRANSITIONS,
    BreakerEvent,
    BreakerState,
    CircuitBreaker,
    InvalidBreakerTransition,
    next_state,
)

T0 = dt.datetime(2026, 11, 25, 15, 0, tzinfo=dt.UTC)


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def tripped(config: BreakerConfig | None = None) -> CircuitBreaker:
    breaker = CircuitBreaker(config or BreakerConfig())
    for i in range(5):
        breaker.record_failure(at(i))
    return breaker


def test_four_failures_in_the_window_keep_it_closed():
    breaker = CircuitBreaker(BreakerConfig())
    for i in range(4):
        breaker.record_failure(at(i * 10))
    assert breaker.state(at(45)) is BreakerState.CLOSED
    assert breaker.allow(at(45))


def test_fifth_failure_within_60s_opens_it_and_blocks_new_orders():
    breaker = tripped()
    assert breaker.state(at(5)) is BreakerState.OPEN
    assert not breaker.allow(at(5))
    assert breaker.reopens_at(at(5)) == at(4 + 300)


def test_failures_older_than_the_window_do_not_count():
    breaker = CircuitBreaker(BreakerConfig())
    for i in range(4):
        breaker.record_failure(at(i))
    breaker.record_failure(at(61))  # the first failure (t=0) has left the window
    assert breaker.state(at(61)) is BreakerState.CLOSED
    breaker.record_failure(at(62))  # t=1 left too: still four in the window
    assert breaker.state(at(62)) is BreakerState.CLOSED


def test_exits_pass_an_open_breaker_when_configured():
    breaker = tripped()
    assert breaker.allow(at(10), is_exit=True)


def test_exits_are_blocked_too_when_not_configured():
    breaker = tripped(BreakerConfig(allow_exits_when_open=False))
    assert not breaker.allow(at(10), is_exit=True)


def test_after_open_s_it_is_half_open_and_lets_one_trial_through():
    breaker = tripped()
    assert breaker.state(at(4 + 299)) is BreakerState.OPEN
    assert breaker.state(at(4 + 300)) is BreakerState.HALF_OPEN
    assert breaker.allow(at(305))
    assert not breaker.allow(at(306))


def test_exit_in_half_open_does_not_use_up_the_trial():
    breaker = tripped()
    assert breaker.allow(at(305), is_exit=True)
    assert breaker.allow(at(306))


def test_successful_trial_closes_it():
    breaker = tripped()
    assert breaker.allow(at(305))
    assert breaker.record_success(at(306)) is BreakerState.CLOSED
    assert breaker.allow(at(307))
    assert breaker.allow(at(308))


def test_failed_trial_reopens_it_for_another_open_period():
    breaker = tripped()
    assert breaker.allow(at(305))
    assert breaker.record_failure(at(306)) is BreakerState.OPEN
    assert not breaker.allow(at(306 + 299))
    assert breaker.state(at(306 + 300)) is BreakerState.HALF_OPEN


def test_closed_after_recovery_needs_five_fresh_failures_to_open_again():
    breaker = tripped()
    breaker.allow(at(305))
    breaker.record_success(at(306))
    for i in range(4):
        breaker.record_failure(at(310 + i))
    assert breaker.state(at(320)) is BreakerState.CLOSED


def test_a_lost_trial_frees_its_slot_after_the_window():
    breaker = tripped()
    assert breaker.allow(at(305))
    assert not breaker.allow(at(305 + 59))
    assert breaker.allow(at(305 + 60))


def test_failures_while_open_do_not_extend_it():
    breaker = tripped()
    breaker.record_failure(at(100))
    assert breaker.state(at(304)) is BreakerState.HALF_OPEN


def test_success_while_closed_or_open_changes_nothing():
    breaker = tripped()
    assert breaker.record_success(at(10)) is BreakerState.OPEN
    assert CircuitBreaker(BreakerConfig()).record_success(at(0)) is BreakerState.CLOSED


def test_transition_table_has_exactly_the_four_documented_moves():
    assert TRANSITIONS == {
        (BreakerState.CLOSED, BreakerEvent.TRIP): BreakerState.OPEN,
        (BreakerState.OPEN, BreakerEvent.COOLED): BreakerState.HALF_OPEN,
        (BreakerState.HALF_OPEN, BreakerEvent.TRIAL_SUCCEEDED): BreakerState.CLOSED,
        (BreakerState.HALF_OPEN, BreakerEvent.TRIAL_FAILED): BreakerState.OPEN,
    }


@pytest.mark.parametrize(
    ("state", "event"),
    [
        (BreakerState.CLOSED, BreakerEvent.TRIAL_SUCCEEDED),
        (BreakerState.CLOSED, BreakerEvent.COOLED),
        (BreakerState.OPEN, BreakerEvent.TRIP),
        (BreakerState.HALF_OPEN, BreakerEvent.TRIP),
    ],
)
def test_invalid_transition_raises(state, event):
    with pytest.raises(InvalidBreakerTransition) as raised:
        next_state(state, event)
    assert f"{event.value} is not valid in {state.value}" in str(raised.value)
