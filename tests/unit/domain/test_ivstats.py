"""IV rank and percentile over the look-back, trend against the moving average."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.domain.ivstats import change_pct, iv_percentile, iv_rank, moving_average, trend
from shared.enums import Trend


def test_rank_places_newest_value_between_low_and_high():
    assert iv_rank([0.10, 0.30, 0.20]) == pytest.approx(50.0)
    assert iv_rank([0.10, 0.30], current=0.25) == pytest.approx(75.0)


def test_rank_is_100_at_a_new_high_and_0_at_a_new_low():
    history = [0.15, 0.20, 0.18]
    assert iv_rank(history, current=0.40) == 100.0
    assert iv_rank(history, current=0.05) == 0.0


def test_rank_only_looks_back_lookback_values():
    old_spike = [0.90] + [0.10 + 0.001 * i for i in range(252)]
    # the 0.90 spike is 253 values ago with current appended: out of the window
    assert iv_rank(old_spike, current=0.36) == 100.0
    assert iv_rank(old_spike, current=0.36, lookback=300) < 50.0


def test_rank_of_default_lookback_uses_252_values():
    history = [0.50] + [0.20] * 251 + [0.30]
    assert iv_rank(history) == 100.0  # the 0.50 is the 253rd value back
    assert iv_rank(history, lookback=253) == pytest.approx(100 * (0.30 - 0.20) / (0.50 - 0.20))


def test_empty_history_gives_nan_rank_and_percentile():
    assert math.isnan(iv_rank([]))
    assert math.isnan(iv_percentile([]))


def test_flat_history_is_mid_rank_and_mid_percentile():
    assert iv_rank([0.2] * 30) == 50.0
    assert iv_percentile([0.2] * 30) == 0.5
    assert iv_rank([], current=0.2) == 50.0
    assert iv_percentile([], current=0.2) == 0.5


def test_missing_values_in_history_are_ignored():
    assert iv_rank([0.1, math.nan, 0.3, math.inf], current=0.2) == pytest.approx(50.0)


def test_percentile_counts_earlier_values_below_current():
    history = [0.10, 0.20, 0.30, 0.40]
    assert iv_percentile(history, current=0.35) == pytest.approx(0.75)
    assert iv_percentile(history, current=0.05) == 0.0
    assert iv_percentile(history, current=0.50) == 1.0


def test_percentile_counts_ties_half():
    assert iv_percentile([0.1, 0.2, 0.2, 0.3], current=0.2) == pytest.approx(0.5)


def test_lookback_below_one_is_refused():
    with pytest.raises(ValueError, match="lookback"):
        iv_rank([0.2], lookback=0)


@given(st.lists(st.floats(0.01, 3.0), min_size=1, max_size=400), st.floats(0.01, 3.0))
def test_rank_and_percentile_stay_in_range(history, current):
    assert 0.0 <= iv_rank(history, current) <= 100.0
    assert 0.0 <= iv_percentile(history, current) <= 1.0


def _closes(last: float, average_of_rest: float = 100.0, n: int = 20) -> list[float]:
    return [average_of_rest] * (n - 1) + [last]


def test_price_within_band_of_moving_average_is_neutral():
    assert trend(_closes(100.5)) is Trend.NEUTRAL


def test_price_above_band_is_bullish_and_below_is_bearish():
    assert trend(_closes(110.0)) is Trend.BULLISH
    assert trend(_closes(90.0)) is Trend.BEARISH


def test_live_price_overrides_last_close():
    assert trend([100.0] * 20, price=102.0) is Trend.BULLISH
    assert trend([100.0] * 20, price=98.0) is Trend.BEARISH


def test_trend_band_is_configurable():
    assert trend([100.0] * 20, band_pct=0.05, price=103.0) is Trend.NEUTRAL


def test_trend_uses_only_the_last_ma_days_closes():
    closes = [50.0] * 100 + [100.0] * 20
    assert trend(closes, price=100.0) is Trend.NEUTRAL


def test_too_few_closes_for_the_moving_average_is_an_error():
    with pytest.raises(ValueError, match="need 20 closes"):
        trend([100.0] * 5)


def test_moving_average_of_last_days():
    assert moving_average([1.0, 2.0, 3.0, 4.0], 2) == 3.5


def test_change_pct_is_relative_and_nan_from_zero():
    assert change_pct(0.20, 0.30) == pytest.approx(0.5)
    assert change_pct(400.0, 388.0) == pytest.approx(-0.03)
    assert math.isnan(change_pct(0.0, 1.0))
