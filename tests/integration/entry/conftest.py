"""Entry's integration fixtures: the service's config and a market desk."""

from __future__ import annotations

import pytest
from entry_desk import MarketDesk

from shared.config import Config, dump_config, load_config


@pytest.fixture
def entry_config(config: Config) -> Config:
    """One symbol, and no scheduled evaluation during a test: tests ask with evaluate_entry."""
    tree = dump_config(config)
    tree["universe"]["symbols"] = ["SPY"]
    tree["entry"]["interval_s"] = 36_000.0
    tree["entry"]["rpc_timeout_s"] = 20.0
    return load_config(env={}, overrides=tree)


@pytest.fixture
def desk() -> MarketDesk:
    return MarketDesk()
