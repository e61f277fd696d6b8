"""Strategies table rows give back the same record; the halt switch ignores stale commands."""

from __future__ import annotations

import datetime as dt

from entry_factories import T0, filled, make_record

from services.entry.lifecycle import Applied, apply
from services.entry.store import Halting, strategy_record, strategy_row
from services.entry.workflow import built_event_id, command_signal_id, strategy_id_for
from shared.enums import StrategyStatus


def test_strategy_row_round_trips_an_open_record():
    change = apply(make_record(delta_per_unit=3.5, gamma_per_unit=-0.2), filled(), T0)
    assert isinstance(change, Applied)
    record = change.record
    back = strategy_record(strategy_row(record))
    assert back == record
    assert back.status is StrategyStatus.OPEN


def test_rows_read_back_as_naive_utc_stay_timezone_aware():
    row = strategy_row(make_record())
    row["created_at"] = row["created_at"].replace(tzinfo=None)
    assert strategy_record(row).strategy.created_at == T0


def test_halt_switch_applies_only_newer_commands():
    halting = Halting(reason="operator", changed_at=T0)
    assert halting.is_newer(T0 + dt.timedelta(seconds=1))
    assert not halting.is_newer(T0)
    assert Halting().is_newer(T0)


def test_ids_derived_from_the_signal_are_the_same_on_every_replay():
    assert strategy_id_for("spy", "sig-1") == strategy_id_for("SPY", "sig-1")
    assert strategy_id_for("SPY", "sig-1") != strategy_id_for("SPY", "sig-2")
    assert strategy_id_for("SPY", "sig-1").startswith("SPY-")
    assert built_event_id("sig-1") == built_event_id("sig-1")
    assert command_signal_id("SPY", "cmd-1") == command_signal_id("SPY", "cmd-1")
    assert command_signal_id("SPY", "cmd-1") != command_signal_id("QQQ", "cmd-1")
