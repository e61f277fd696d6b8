"""Daily history: consistent with the live start, reproducible, a high IV rank by default."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from services.ibsim.history import HistoryRequestError, build_history, duration_days, select_bars

END = dt.date(2026, 6, 15)


def test_history_ends_on_the_live_price_and_iv():
    history = build_history("SPY", 7, END, 580.0, 0.153)
    assert history.dates[-1] == END
    assert history.close[-1] == pytest.approx(580.0)
    assert history.iv[-1] == pytest.approx(0.153)


def test_same_seed_same_history_and_symbols_differ():
    a = build_history("SPY", 7, END, 580.0, 0.15)
    b = build_history("SPY", 7, END, 580.0, 0.15)
    c = build_history("QQQ", 7, END, 580.0, 0.15)
    assert np.array_equal(a.close, b.close)
    assert not np.array_equal(a.close, c.close)


@pytest.mark.parametrize("symbol", ["SPY", "QQQ", "IWM"])
def test_current_iv_sits_high_in_its_year_range(symbol: str):
    bars = select_bars(
        build_history(symbol, 7, END, 500.0, 0.2), "OPTION_IMPLIED_VOLATILITY", "1 Y", END
    )
    ivs = [b.close for b in bars]
    assert (ivs[-1] - min(ivs)) / (max(ivs) - min(ivs)) > 0.5


def test_bars_are_well_formed():
    for b in select_bars(build_history("SPY", 7, END, 580.0, 0.15), "TRADES", "1 Y", END):
        assert b.low <= min(b.open, b.close) <= max(b.open, b.close) <= b.high
        assert b.volume > 0


def test_durations():
    assert duration_days("1 Y") == 366
    assert duration_days("30 D") == 30
    with pytest.raises(HistoryRequestError):
        duration_days("forever")
