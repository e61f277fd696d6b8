"""Out-of-range values the contract refuses at decode, so a consumer dead-letters them."""

from __future__ import annotations

import math
from typing import Any

import msgspec
import pytest
from fixtures.events import make
from hostile.payloads import built

from shared.events import MAX_LEGS, Codec, DecisionMade, Leg, StrategyBuilt, encode

BUILT = Codec(StrategyBuilt)


def _wire(raw: dict[str, Any]) -> bytes:
    return msgspec.msgpack.encode(raw)


def _with_leg(index: int, **change: Any) -> dict[str, Any]:
    raw = msgspec.to_builtins(built())
    raw["legs"][index].update(change)
    return raw


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({**msgspec.to_builtins(built()), "quantity": 0}, "quantity"),
        ({**msgspec.to_builtins(built()), "quantity": -3}, "quantity"),
        ({**msgspec.to_builtins(built()), "limit_price": math.nan}, "limit_price"),
        ({**msgspec.to_builtins(built()), "worst_price": math.inf}, "worst_price"),
        ({**msgspec.to_builtins(built()), "stop_loss": math.nan}, "stop_loss"),
        ({**msgspec.to_builtins(built()), "max_loss": math.nan}, "max_loss"),
        (_with_leg(0, strike=0.0), "legs[0].strike"),
        (_with_leg(2, strike=math.nan), "legs[2].strike"),
        (_with_leg(1, quantity=0), "legs[1].quantity"),
        (
            {**msgspec.to_builtins(built()), "legs": msgspec.to_builtins(built().legs) * 3},
            "legs",
        ),
    ],
)
def test_strategy_built_out_of_range_is_refused_at_decode(
    raw: dict[str, Any], message: str
) -> None:
    with pytest.raises(msgspec.ValidationError) as err:
        BUILT.decode(_wire(raw))
    assert message in str(err.value)


def test_an_unbounded_max_profit_is_a_valid_strategy() -> None:
    straddle = built(max_profit=math.inf)
    assert BUILT.decode(encode(straddle)).max_profit == math.inf


def test_a_roll_sized_combo_is_within_the_leg_limit() -> None:
    legs: list[Leg] = built().legs * 2
    assert len(legs) == MAX_LEGS
    assert BUILT.decode(encode(built(legs=legs))).legs == legs


@pytest.mark.parametrize(
    ("field", "value"),
    [("close_ratio", 0.0), ("close_ratio", 1.5), ("close_ratio", math.nan), ("roll_to_dte", 0)],
)
def test_decision_out_of_range_is_refused_at_decode(field: str, value: float) -> None:
    raw = {**msgspec.to_builtins(make(DecisionMade)), field: value}
    with pytest.raises(msgspec.ValidationError) as err:
        Codec(DecisionMade).decode(_wire(raw))
    assert field in str(err.value)


@pytest.mark.parametrize(
    "strategy_id", ["x" * 5000, "has space", "dotted.id", "wild*", "tail>", "", "-lead"]
)
def test_an_id_that_is_no_subject_token_is_refused_at_decode(strategy_id: str):
    raw = {**msgspec.to_builtins(built()), "strategy_id": strategy_id}
    with pytest.raises(msgspec.ValidationError) as refused:
        BUILT.decode(_wire(raw))
    assert "strategy_id" in str(refused.value)


def test_an_event_made_in_process_with_such_an_id_gets_no_subject():
    from shared.errors import Invalid
    from shared.subjects import Subjects

    with pytest.raises(Invalid) as refused:
        Subjects("v6").for_event(make(DecisionMade, strategy_id="x" * 5000))
    assert "not a subject token" in str(refused.value)
