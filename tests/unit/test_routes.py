"""The route table is the one source of subjects, streams, consumers and permissions."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fixtures.events import make

from shared.bus.permissions import may_publish, permissions_of
from shared.bus.streams import CONSUMERS, STREAMS, consumer, stream_of, subject_matches
from shared.config import load_config
from shared.enums import Severity
from shared.events import (
    EVENT_TYPES,
    AlertRaised,
    AlertStatusChanged,
    ChainRequested,
    Command,
    DeadLettered,
    DecisionMade,
    Event,
    Halt,
    MarketDataUpdated,
    OrderFilled,
    OrderPlaced,
    PositionClosed,
    PositionOpened,
    SnapshotNow,
)
from shared.routes import OPERATOR, ROUTES, SERVICES, Route, route_of
from shared.service import Runtime, ServiceDef
from shared.subjects import Subjects

PREFIX = "v6"
USERS = (*SERVICES, OPERATOR)


def _leaves(cls: type[Event]) -> set[type[Event]]:
    subs = cls.__subclasses__()
    return {cls} if not subs else {leaf for sub in subs for leaf in _leaves(sub)}


def _samples(cls: type[Event]) -> Iterator[Event]:
    """Instances covering every subject of the type: each severity, each publisher's letters."""
    if cls is AlertRaised:
        yield from (make(cls, severity=s) for s in Severity)
    elif cls is DeadLettered:
        yield from (make(cls, service=user) for user in USERS)
    else:
        yield make(cls)


PUBLISHED = [
    (cls, event) for cls in EVENT_TYPES if cls is not route_of(cls).reply for event in _samples(cls)
]


def _subject(event: Event) -> str:
    return Subjects(PREFIX).for_event(event)


def _core_subscriptions(user: str) -> list[str]:
    perms = permissions_of(user, PREFIX)
    assert perms is not None
    return [p for p in perms.subscribe if p.startswith(f"{PREFIX}.") and ".svc." not in p]


def test_the_union_names_every_concrete_event_type() -> None:
    assert set(EVENT_TYPES) == _leaves(Event)


@pytest.mark.parametrize("cls", EVENT_TYPES, ids=lambda c: c.__name__)
def test_every_event_type_has_exactly_one_route(cls: type[Event]) -> None:
    routes = [r for r in ROUTES if cls in r.types or cls is r.reply]
    assert routes == [route_of(cls)]


def _id(x: object) -> str:
    return x.__name__ if isinstance(x, type) else _subject(x) if isinstance(x, Event) else str(x)


@pytest.mark.parametrize(("cls", "event"), PUBLISHED, ids=_id)
def test_an_event_is_published_on_its_route_family_and_key(cls: type[Event], event: Event) -> None:
    route = route_of(cls)
    subject = _subject(event)
    assert subject == f"{PREFIX}.{route.subject(route.key_of(event))}"
    if route.key is not None:
        assert subject.endswith(f".{route.key_of(event)}")
    held = stream_of(subject, PREFIX)
    assert (held.key if held else None) == route.stream


def test_subjects_are_the_deployed_ones() -> None:
    s = Subjects(PREFIX)
    assert [
        _subject(make(OrderFilled, strategy_id="s-1")),
        _subject(make(AlertRaised, severity=Severity.WARNING)),
        _subject(make(AlertStatusChanged, alert_id="a-1")),
        _subject(Halt()),
        _subject(make(DeadLettered, service="monitor")),
        s.strategy_built("SPY"),
        s.broker(),
        s.reconciled(),
        s.rpc_chain(),
        s.rpc_history(),
    ] == [
        "v6.order.status.s-1",
        "v6.alert.warning",
        "v6.alert.status.a-1",
        "v6.cmd.halt",
        "v6.dlq.monitor",
        "v6.strategy.built.SPY",
        "v6.broker.state",
        "v6.broker.reconciled",
        "v6.rpc.chain",
        "v6.rpc.history",
    ]


@pytest.mark.parametrize("cls", [r.reply for r in ROUTES if r.reply], ids=lambda c: c.__name__)
def test_a_reply_has_no_subject_of_its_own(cls: type[Event]) -> None:
    with pytest.raises(ValueError, match="reply"):
        _subject(make(cls))


def _may_publish(route: Route, user: str, event: Event) -> bool:
    if route.key_is_publisher:
        return user in route.publishers and route.key_of(event) == user
    return user in route.publishers


@pytest.mark.parametrize("user", USERS)
def test_a_user_may_publish_exactly_what_its_routes_say(user: str) -> None:
    allowed = {
        (cls.__name__, _subject(e)): _may_publish(route_of(cls), user, e) for cls, e in PUBLISHED
    }
    actual = {key: may_publish(user, key[1], PREFIX) for key in allowed}
    assert actual == allowed


@pytest.mark.parametrize(
    ("user", "event"),
    [
        ("entry", make(DecisionMade, strategy_id="s-1")),
        ("decision", make(OrderFilled, strategy_id="s-1")),
        ("decision", make(OrderPlaced, strategy_id="s-1")),
        ("execution", make(AlertStatusChanged, alert_id="a-1")),
        ("monitor", make(ChainRequested)),
        ("monitor", make(DeadLettered, service="entry")),
        ("operator", make(AlertRaised)),
    ],
    ids=_id,
)
def test_a_service_may_not_publish_another_services_events(user: str, event: Event) -> None:
    assert not may_publish(user, _subject(event), PREFIX)


@pytest.mark.parametrize("user", USERS)
def test_nothing_outside_the_routes_may_be_published(user: str) -> None:
    strays = ("v6.order.x", "v6.cmd.unknown_verb", "v6.alert.loud", "v6.broker.x", "v6.rpc.x")
    assert [s for s in strays if may_publish(user, s, PREFIX)] == []


@pytest.mark.parametrize("service", SERVICES)
def test_core_subscriptions_are_exactly_the_routed_ones(service: str) -> None:
    patterns = _core_subscriptions(service)
    for cls, event in PUBLISHED:
        subscribed = any(subject_matches(p, _subject(event)) for p in patterns)
        assert subscribed is (service in route_of(cls).subscribers), cls.__name__


@pytest.mark.parametrize("spec", CONSUMERS, ids=lambda c: c.durable)
def test_a_durable_consumer_filters_only_the_types_routed_to_it(spec) -> None:
    for cls, event in PUBLISHED:
        route = route_of(cls)
        routed = route.stream == spec.stream and spec.service in route.consumers
        filtered = any(subject_matches(f, _subject(event)) for f in spec.full_filters(PREFIX))
        assert filtered is routed, cls.__name__


def test_every_routed_consumer_has_its_durable_consumer() -> None:
    for route in ROUTES:
        for service in route.consumers:
            assert route.stream is not None
            assert consumer(service, route.stream).service == service


def test_streams_and_durable_consumers_are_the_deployed_ones() -> None:
    assert {s.key: s.subjects for s in STREAMS} == {
        "strategy_built": ("strategy.built.>",),
        "orders": ("order.>",),
        "decisions": ("decision.>",),
        "exits": ("exit.>",),
        "commands": ("cmd.>",),
        "alerts": ("alert.>",),
        "dlq": ("dlq.>",),
    }
    assert {c.durable: c.filter_subjects for c in CONSUMERS} == {
        "execution-strategy_built": ("strategy.built.>",),
        "execution-decisions": ("decision.>",),
        "execution-commands": ("cmd.close_all", "cmd.halt", "cmd.resume"),
        "monitor-orders": ("order.>",),
        "monitor-exits": ("exit.>",),
        "monitor-commands": ("cmd.snapshot_now", "cmd.close_all"),
        "entry-orders": ("order.>",),
        "entry-exits": ("exit.>",),
        "entry-commands": ("cmd.evaluate_entry", "cmd.halt", "cmd.resume"),
        "decision-exits": ("exit.>",),
        "decision-commands": ("cmd.alert_ack", "cmd.alert_resolve"),
    }


def test_every_command_goes_to_the_commands_stream_from_the_operator() -> None:
    commands = [cls for cls in EVENT_TYPES if issubclass(cls, Command)]
    assert {(route_of(c).stream, route_of(c).publishers) for c in commands} == {
        ("commands", (OPERATOR,))
    }


async def _nothing(*_: object) -> None:
    return None


def _runtime(name: str) -> Runtime:
    async def wire(rt: Runtime) -> None:
        return None

    return Runtime(ServiceDef(name, "", (), wire), load_config(env={}))


async def test_a_service_decoding_other_types_than_routed_to_it_does_not_start() -> None:
    # monitor's commands are snapshot-now and close-all: a halt would never reach it, and a
    # close-all it could not decode would be dead-lettered
    with pytest.raises(ValueError, match=r"CloseAll.*Halt"):
        await _runtime("monitor").consume("commands", _nothing, SnapshotNow | Halt)


@pytest.mark.parametrize(
    ("service", "types"),
    [("decision", MarketDataUpdated), ("monitor", PositionOpened | PositionClosed)],
    ids=["decision-md", "monitor-book"],
)
async def test_a_service_subscribing_to_what_is_not_routed_to_it_does_not_start(
    service: str, types: object
) -> None:
    with pytest.raises(ValueError, match=r"not in shared/routes\.py"):
        await _runtime(service).subscribe(_nothing, types)
