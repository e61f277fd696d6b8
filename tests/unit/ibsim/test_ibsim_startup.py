"""Start-up: the default simulated start time and the command line."""

from __future__ import annotations

import datetime as dt

from services.ibsim.__main__ import build_config, parse_args
from services.ibsim.server import default_start


def test_default_start_is_the_next_session_open_plus_an_hour():
    saturday = dt.datetime(2026, 6, 13, 12, 0, tzinfo=dt.UTC)
    assert default_start(saturday) == dt.datetime(2026, 6, 15, 14, 30, tzinfo=dt.UTC)


def test_default_start_skips_a_session_already_past_1030():
    monday_noon = dt.datetime(2026, 6, 15, 16, 0, tzinfo=dt.UTC)
    assert default_start(monday_noon) == dt.datetime(2026, 6, 16, 14, 30, tzinfo=dt.UTC)


def test_command_line_overrides_the_sim_section():
    config = build_config(
        parse_args(["--port", "4010", "--seed", "3", "--speed", "60", "--control"])
    )
    assert (config.port, config.seed, config.time_speed) == (4010, 3, 60.0)
    assert config.control_enabled


def test_control_stays_off_by_default():
    assert not build_config(parse_args([])).control_enabled
