import datetime as dt
import math

from fixtures.events import NOW, condor_market, filled, placed, vix

from services.monitor.workflow import PositionMonitoringWorkflow
from shared.clock import FixedClock
from shared.config import load_config
from shared.enums import ExitResult, OrderPurpose
from shared.events import Action, Bar, ExitExecuted, PositionClosed, PositionOpened


def _workflow(fetch=None) -> PositionMonitoringWorkflow:
    return PositionMonitoringWorkflow(load_config(env={}), FixedClock(NOW), fetch_history=fetch)


def _open(wf: PositionMonitoringWorkflow, strategy_id: str = "s-1", quantity: int = 1) -> list:
    wf.on_market_data(vix())
    wf.on_order_placed(placed(strategy_id, quantity=quantity))
    return wf.on_order_filled(filled(strategy_id, exec_id=f"{strategy_id}-e", quantity=quantity))


async def test_fill_opens_a_position_and_valuation_publishes_its_snapshot() -> None:
    wf = _workflow()
    (opened,) = _open(wf)
    assert isinstance(opened, PositionOpened) and opened.quantity == 1
    wf.on_market_data(condor_market())
    (snap,) = await wf.monitor_positions()
    assert snap.strategy_id == "s-1" and snap.vix == snap.vix_at_entry == 18.0
    assert math.isclose(snap.upl_pct, 0.40 / 1.20)
    assert [p.strategy_id for p in wf.positions_since()] == ["s-1"]


async def test_entry_iv_is_learnt_once_and_iv_change_follows() -> None:
    wf = _workflow()
    _open(wf)
    wf.on_market_data(condor_market())
    first = await wf.monitor_positions()
    assert first[0].iv_change_pct == 0.0
    higher = condor_market()
    higher = higher.__class__(
        symbol="SPY",
        market_time=NOW,
        quotes=[
            q if q.iv is None else q.__class__(**{**_fields(q), "iv": 0.30}) for q in higher.quotes
        ],
    )
    wf.on_market_data(higher)
    (snap,) = await wf.monitor_positions()
    assert math.isclose(snap.iv_change_pct, 0.5)


def _fields(struct) -> dict:
    return {f: getattr(struct, f) for f in struct.__struct_fields__}


async def test_portfolio_and_symbol_delta_sum_the_book() -> None:
    wf = _workflow()
    _open(wf, "s-1")
    _open(wf, "s-2", quantity=2)
    market = condor_market()
    # skew the deltas so the condor is short delta: every call leg at 0.3, puts at -0.1
    quotes = [market.quotes[0]] + [
        q.__class__(**{**_fields(q), "delta": 0.3 if q.right.value == "c" else -0.1})
        for q in market.quotes[1:]
    ]
    wf.on_market_data(market.__class__(symbol="SPY", market_time=NOW, quotes=quotes))
    snaps = {s.strategy_id: s for s in await wf.monitor_positions()}
    # per unit: -(-0.1) ... long put -0.1, short put +0.1, short call -0.3, long call +0.3 = 0
    assert math.isclose(snaps["s-1"].delta, 0.0, abs_tol=1e-9)
    assert snaps["s-1"].portfolio_delta == snaps["s-2"].symbol_delta


async def test_iv_rank_and_percentile_come_from_the_history() -> None:
    asked: list[str] = []

    async def fetch(symbol: str) -> list[Bar]:
        asked.append(symbol)
        day = dt.date(2025, 3, 1)
        return [Bar(day + dt.timedelta(days=i), 0, 0, 0, 0.10 + 0.002 * i) for i in range(101)]

    wf = _workflow(fetch)
    _open(wf)
    wf.on_market_data(condor_market())
    (before,) = await wf.monitor_positions()
    # the history loads in the background: neutral until then
    assert (before.iv_rank, before.iv_percentile) == (50.0, 0.5)
    await wf.iv_history.settle()
    (snap,) = await wf.monitor_positions()
    assert math.isclose(snap.iv_rank, 50.0) and math.isclose(snap.iv_percentile, 0.5, abs_tol=0.01)
    assert asked == ["SPY"]  # once per trading day


async def test_closed_strategy_is_no_longer_valued() -> None:
    wf = _workflow()
    _open(wf)
    wf.on_market_data(condor_market())
    (closed,) = wf.on_exit_executed(
        ExitExecuted(
            strategy_id="s-1", action=Action.CLOSE, result=ExitResult.CLOSED, realized_pnl=80.0
        )
    )
    assert isinstance(closed, PositionClosed) and closed.realized_pnl == 80.0
    assert await wf.monitor_positions() == []


async def test_exit_order_marks_the_snapshot_exit_working() -> None:
    wf = _workflow()
    _open(wf)
    wf.on_market_data(condor_market())
    wf.on_order_placed(placed(purpose=OrderPurpose.EXIT, order_ref="s-1:exit"))
    (snap,) = await wf.monitor_positions()
    assert snap.exit_working
