"""Every order role has one pair of callbacks, from one literal table; saved orders from before
roles get theirs from what they were placed for."""

import datetime as dt

import pytest
from msgspec.structs import replace

from services.execution.book import Holding, HoldingBook
from services.execution.ib_client import IBClient
from services.execution.order_manager import OrderManager
from services.execution.orders import OrderRole, OrderSpec, bracket_refs
from services.execution.placing import OrderPlacer
from services.execution.tables import holding_from_row, holding_row, legacy_role
from services.execution.workflow import ExecutionWorkflows
from shared.config import BreakerConfig, IBConfig, OrdersConfig
from shared.domain.breaker import CircuitBreaker
from shared.enums import OrderPurpose, Right, StrategyType
from shared.events import Event, Leg

EXP = dt.date(2027, 1, 15)
LEG = Leg(right=Right.PUT, strike=500, expiry=EXP, quantity=1, con_id=1)
NOW = dt.datetime(2026, 11, 24, 15, 0, tzinfo=dt.UTC)


async def _publish(event: Event) -> Event:
    return event


async def _save(holding: Holding, *, durable: bool = False) -> None:
    return None


@pytest.fixture
def flows() -> ExecutionWorkflows:
    client = IBClient(IBConfig())  # never connected: only the wiring is looked at
    orders = OrderManager(client, _publish, OrdersConfig(), {})
    placer = OrderPlacer(
        client,
        orders,
        HoldingBook(),
        CircuitBreaker(BreakerConfig()),
        None,  # type: ignore[arg-type]
        OrdersConfig(),
        _publish,
        _save,
    )
    return ExecutionWorkflows(placer)


def test_every_role_has_its_fill_and_end_callbacks(flows: ExecutionWorkflows):
    roles = flows.placer.orders.roles
    assert set(roles) == set(OrderRole)
    entries, rolls = flows.entries, flows.rolls
    closer, brackets = flows.exits.closer, rolls.brackets
    expected = {
        OrderRole.ENTRY: (entries.on_fill, entries.on_done),
        OrderRole.BRACKET: (brackets.on_fill, brackets.on_done),
        OrderRole.CLOSE: (closer.on_fill, closer.on_done),
        OrderRole.REDUCE: (closer.on_fill, closer.on_done),
        # a two-step roll: the close is booked like any close, its end opens the new one
        OrderRole.ROLL_CLOSE: (closer.on_fill, rolls.on_close_done),
        # one combo closes the old and opens the new in each fill
        OrderRole.ROLL_COMBO: (rolls.on_combo_fill, rolls.on_done),
        # the second step opens like an entry, its end reports the roll
        OrderRole.ROLL_OPEN: (entries.on_fill, rolls.on_done),
    }
    for role, (on_fill, on_done) in expected.items():
        assert (roles[role].on_fill, roles[role].on_done) == (on_fill, on_done), role


def _spec(sid: str, purpose: OrderPurpose, ref_seq: int = 0, **kw: object) -> OrderSpec:
    return OrderSpec(
        strategy_id=sid,
        symbol="SPY",
        order_ref=f"v6:{sid}:{purpose.value}:{ref_seq}",
        purpose=purpose,
        legs=(LEG,),
        quantity=1,
        limit_price=1.0,
        worst_price=1.0,
        **kw,
    )


def test_orders_saved_before_roles_get_the_role_they_were_placed_for():
    tp, sl = bracket_refs("a")
    assert legacy_role(replace(_spec("a", OrderPurpose.EXIT), order_ref=tp)) is OrderRole.BRACKET
    assert legacy_role(replace(_spec("a", OrderPurpose.EXIT), order_ref=sl)) is OrderRole.BRACKET
    assert legacy_role(_spec("a", OrderPurpose.ENTRY)) is OrderRole.ENTRY
    assert legacy_role(_spec("a", OrderPurpose.EXIT)) is OrderRole.CLOSE
    assert legacy_role(_spec("a", OrderPurpose.REDUCE)) is OrderRole.REDUCE
    assert legacy_role(_spec("a", OrderPurpose.ROLL)) is OrderRole.ROLL_CLOSE
    combo = _spec("a-r1", OrderPurpose.ROLL, rolled_from="a", closes=1)
    assert legacy_role(combo) is OrderRole.ROLL_COMBO
    assert legacy_role(_spec("a-r1", OrderPurpose.ROLL, 1, rolled_from="a")) is OrderRole.ROLL_OPEN


def test_a_holding_row_without_roles_is_read_back_with_them():
    h = Holding(
        strategy_id="a",
        symbol="SPY",
        strategy_type=StrategyType.PUT_CREDIT_SPREAD,
        legs=(LEG,),
        target_quantity=1,
        working=_spec("a", OrderPurpose.REDUCE),
        brackets=(replace(_spec("a", OrderPurpose.EXIT), order_ref=bracket_refs("a")[0]),),
    )
    read = holding_from_row(holding_row(h, NOW))
    assert read.working is not None and read.working.role is OrderRole.REDUCE
    assert [b.role for b in read.brackets] == [OrderRole.BRACKET]
    placed = _spec("a", OrderPurpose.EXIT, role=OrderRole.CLOSE)
    h.working = placed
    assert holding_from_row(holding_row(h, NOW)).working == placed  # a saved role stays
