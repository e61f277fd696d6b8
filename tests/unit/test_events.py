"""The event contract on the wire: every event round-trips; bad payloads fail with the path."""

from __future__ import annotations

import msgspec
import pytest
from fixtures.events import make

from shared.events import (
    EVENT_TYPES,
    SCHEMA_VERSION,
    Codec,
    Leg,
    OrderFilled,
    StrategyBuilt,
    UnknownSchemaVersion,
    decode,
    encode,
)


@pytest.mark.parametrize("cls", EVENT_TYPES, ids=lambda c: c.__name__)
def test_every_event_type_round_trips_through_the_codec(cls: type) -> None:
    event = make(cls)
    assert decode(encode(event)) == event


def test_a_wrong_field_type_is_rejected_with_the_field_path() -> None:
    raw = msgspec.to_builtins(make(OrderFilled))
    raw["quantity"] = "2"
    with pytest.raises(msgspec.ValidationError) as err:
        decode(msgspec.msgpack.encode(raw))
    assert "Expected `int`, got `str`" in str(err.value)
    assert "$.quantity" in str(err.value)


def test_a_wrong_type_inside_a_leg_names_the_nested_path() -> None:
    raw = msgspec.to_builtins(make(StrategyBuilt, legs=[make(Leg, strike=500.0, quantity=-1)]))
    raw["legs"][0]["strike"] = "five"
    with pytest.raises(msgspec.ValidationError) as err:
        decode(msgspec.msgpack.encode(raw))
    assert "$.legs[0].strike" in str(err.value)


def test_a_missing_required_field_is_rejected_naming_it() -> None:
    raw = msgspec.to_builtins(make(OrderFilled))
    del raw["exec_id"]
    with pytest.raises(msgspec.ValidationError) as err:
        decode(msgspec.msgpack.encode(raw))
    assert "missing required field `exec_id`" in str(err.value)


def test_a_newer_schema_version_is_refused() -> None:
    event = make(OrderFilled, schema=SCHEMA_VERSION + 1)
    with pytest.raises(UnknownSchemaVersion):
        decode(encode(event))


def test_a_codec_for_some_types_refuses_the_others() -> None:
    codec = Codec(OrderFilled)
    with pytest.raises(msgspec.ValidationError):
        codec.decode(encode(make(StrategyBuilt)))
