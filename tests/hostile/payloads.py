"""Hypothesis strategies for hostile payloads: each one must end as a dead letter or a refusal.

Valid templates are built with ``fixtures.events.make`` and the trusted test producer, then
broken on the wire (raw msgpack dicts), because the contract refuses to construct them.
"""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from typing import Any

import msgspec
import msgspec.inspect as mi
from fixtures.events import make
from hypothesis import strategies as st

from shared.enums import Right, StrategyType
from shared.events import (
    AlertRaised,
    BrokerConnectionChanged,
    ChainRequested,
    Command,
    DecisionMade,
    EntrySignalEvaluated,
    Event,
    ExitExecuted,
    HistoryRequested,
    Leg,
    MarketDataUpdated,
    OrderFilled,
    PositionOpened,
    PositionSnapshot,
    Quote,
    StrategyBuilt,
    encode,
)

# no consumer of any subscribed subject accepts these: on any subject they are the wrong type
WRONG_TYPES: tuple[type[Event], ...] = (
    EntrySignalEvaluated,
    PositionOpened,
    AlertRaised,
    BrokerConnectionChanged,
    ChainRequested,
)
EXPIRY = dt.date(2027, 1, 15)  # after every simulated "today" of these tests
PAST = dt.date(2020, 1, 17)
# odd market data names a symbol of its own: with the market paused, a plausible-looking odd
# quote for a traded symbol would stay its latest price and skew the checks that follow
ODD_SYMBOL = "ODD"
NON_FINITE = (float("nan"), float("inf"), float("-inf"))


def condor_legs(center: float = 580.0) -> list[Leg]:
    shape = ((Right.PUT, -20, 1), (Right.PUT, -10, -1), (Right.CALL, 10, -1), (Right.CALL, 20, 1))
    return [Leg(right=r, strike=center + off, expiry=EXPIRY, quantity=q) for r, off, q in shape]


def built(strategy_id: str = "fuzz", **overrides: Any) -> StrategyBuilt:
    """A structurally valid iron condor (execution may still refuse it on price or date)."""
    fields: dict[str, Any] = {
        "producer": "test",
        "strategy_id": strategy_id,
        "symbol": "SPY",
        "strategy_type": StrategyType.IRON_CONDOR,
        "legs": condor_legs(),
        "quantity": 1,
        "limit_price": 2.0,
        "worst_price": 1.8,
        "max_profit": 200.0,
        "max_loss": 800.0,
    }
    return make(StrategyBuilt, **{**fields, **overrides})


def template(subject: str) -> Event:
    """A valid event of the type a subject (relative to the prefix) carries."""
    family = subject.split(".")
    match family:
        case ["strategy", "built", *_]:
            return built()
        case ["decision", *_]:
            return make(DecisionMade, producer="test", symbol="SPY")
        case ["order", *_]:
            return make(OrderFilled, producer="test")
        case ["exit", *_]:
            return make(ExitExecuted, producer="test")
        case ["md", *_]:
            quote = make(Quote, symbol="SPY")
            return make(MarketDataUpdated, producer="test", symbol="SPY", quotes=[quote])
        case ["position", *_]:
            return make(PositionSnapshot, producer="test")
        case ["rpc", "chain"]:
            return make(ChainRequested, producer="test", symbol="SPY")
        case ["rpc", "history"]:
            return make(HistoryRequested, producer="test", symbol="SPY")
        case ["cmd", verb]:
            cls = next(c for c in _commands() if c.verb == verb)
            return make(cls, producer="test")
    raise ValueError(f"no template for {subject}")


def _commands() -> list[type[Command]]:
    return list(Command.__subclasses__())


def _raw(event: Event) -> dict[str, Any]:
    return msgspec.to_builtins(event)


def _pack(raw: dict[str, Any]) -> bytes:
    return msgspec.msgpack.encode(raw)


def _enum_fields(event: Event) -> list[tuple[str, type[enum.Enum]]]:
    info = mi.type_info(type(event))
    assert isinstance(info, mi.StructType)
    out = []
    for f in info.fields:
        types = f.type.types if isinstance(f.type, mi.UnionType) else (f.type,)
        out += [(f.name, t.cls) for t in types if isinstance(t, mi.EnumType)]
    return out


def _not_a_member(cls: type[enum.Enum]) -> st.SearchStrategy[str]:
    def unknown(text: str) -> bool:
        try:
            cls(text)
        except ValueError:
            return True
        return False

    return st.text(min_size=1, max_size=12).filter(unknown)


def undecodable(valid: Event) -> st.SearchStrategy[bytes]:
    """Bytes no consumer of ``valid``'s subject can decode or accept: dead letters all."""
    data = encode(valid)
    raw = _raw(valid)
    fields = [k for k in raw if k != "type"]

    def wrong_type(name: str, junk: dict[str, int]) -> bytes:
        # a map where no top-level field takes one; a string where one does (metadata)
        return _pack({**raw, name: "not a map" if isinstance(raw[name], dict) else junk})

    enum_fields = _enum_fields(valid)
    options = [
        st.binary(max_size=200),
        st.integers(0, len(data) - 1).map(lambda n: data[:n]),
        st.builds(
            wrong_type,
            st.sampled_from(fields),
            st.dictionaries(
                st.text(max_size=4), st.integers(-(2**63), 2**63 - 1), min_size=1, max_size=3
            ),
        ),
        st.sampled_from([c for c in WRONG_TYPES if c is not type(valid)]).map(
            lambda cls: encode(make(cls, producer="test"))
        ),
        # a stranger claiming the event: the producer check refuses it
        st.text(min_size=1, max_size=8).map(lambda p: _pack({**raw, "producer": f"x{p}"})),
    ]
    if enum_fields:
        options.append(
            st.sampled_from(enum_fields).flatmap(
                lambda nc: _not_a_member(nc[1]).map(lambda v: _pack({**raw, nc[0]: v}))
            )
        )
    return st.one_of(options)


def _leg_broken(raw: dict[str, Any], index: int, field: str, value: Any) -> dict[str, Any]:
    legs = [dict(leg) for leg in raw["legs"]]
    legs[index][field] = value
    return {**raw, "legs": legs}


def stamped(raws: list[dict[str, Any]]) -> list[tuple[str, bytes]]:
    """(strategy id, payload) with a fresh id each: a refusal names the case it answers."""
    cases = []
    for raw in raws:
        sid = f"fuzz-{uuid.uuid4().hex[:12]}"
        cases.append((sid, _pack({**raw, "strategy_id": sid})))
    return cases


def bad_strategies() -> st.SearchStrategy[dict[str, Any]]:
    """StrategyBuilt (as a raw map) with out-of-range values: never an order."""

    def broken(how: int, index: int, number: float, count: int) -> dict[str, Any]:
        raw = _raw(built())
        match how:
            case 0:
                raw["quantity"] = -count
            case 1:
                raw["limit_price"] = number
            case 2:
                raw = _leg_broken(raw, index, "strike", -abs(count))
            case 3:
                raw = _leg_broken(raw, index, "strike", number)
            case 4:
                raw = _leg_broken(raw, index, "quantity", 0)
            case 5:
                raw = _leg_broken(raw, index, "expiry", PAST.isoformat())
            case 6:
                raw["legs"] = raw["legs"] * (50 + count)
            case 7:
                raw["worst_price"] = number
        return raw

    return st.builds(
        broken,
        st.integers(0, 7),
        st.integers(0, 3),
        st.sampled_from(NON_FINITE),
        st.integers(0, 1000),
    )


def bad_decisions() -> st.SearchStrategy[dict[str, Any]]:
    """DecisionMade (as a raw map) out of range, or about a strategy no one holds."""

    def broken(how: int, ratio: float, dte: int) -> dict[str, Any]:
        raw = _raw(make(DecisionMade, producer="test", symbol="SPY"))
        match how:
            case 0:
                raw["close_ratio"] = ratio
            case 1:
                raw["roll_to_dte"] = -dte
            case 2:
                pass  # valid, but the strategy is unknown: ExitExecuted FAILED
        return raw

    ratios = st.one_of(st.sampled_from(NON_FINITE), st.floats(1.01, 1e9), st.floats(-1e9, 0.0))
    return st.builds(broken, st.integers(0, 2), ratios, st.integers(0, 10_000))


def odd_market_data() -> st.SearchStrategy[bytes]:
    """Market data that decodes but makes no sense: a service must shrug it off, not crash."""
    numbers = st.one_of(
        st.sampled_from(NON_FINITE), st.floats(-1e12, 0.0), st.just(0.0), st.just(1e300)
    )

    def quote(number: float, right: Right, option: bool) -> dict[str, Any]:
        raw = _raw(make(Quote, symbol=ODD_SYMBOL, right=right if option else None))
        fields = ("bid", "ask", "last", "iv", "delta", "gamma", "und_price", "strike")
        return {**raw, **dict.fromkeys(fields, number), "expiry": PAST.isoformat()}

    def message(quotes: list[dict[str, Any]], repeat: int) -> bytes:
        raw = _raw(make(MarketDataUpdated, producer="test", symbol=ODD_SYMBOL))
        return _pack({**raw, "quotes": quotes * repeat})

    quotes = st.lists(st.builds(quote, numbers, st.sampled_from(Right), st.booleans()), max_size=4)
    return st.builds(message, quotes, st.sampled_from((1, 2, 300)))
