"""Fixtures for the simulator's unit tests: a market at a fixed start, no event loop needed."""

from __future__ import annotations

import datetime as dt

import pytest

from services.ibsim.market import Market
from shared.config import SimConfig

START = dt.datetime(2026, 6, 15, 14, 30, tzinfo=dt.UTC)  # Monday 10:30 New York


@pytest.fixture
def start() -> dt.datetime:
    return START


@pytest.fixture
def config() -> SimConfig:
    return SimConfig(start_time=START.isoformat())


@pytest.fixture
def market(config: SimConfig) -> Market:
    return Market(config, START)
