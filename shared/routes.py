"""Where every event goes: its subject, its stream, who publishes it and who reads it.

The one table of the bus (architecture.md, "Subjects"). ``Subjects.for_event`` (the subject an
event is published on), ``bus/streams.py`` (the JetStream streams and durable consumers) and
``bus/permissions.py`` (each NATS user's allow-lists and the producer check) are built from it,
so routing a new event, or a new reader of one, is a change of one row here.

Subjects are relative to the configured prefix: ``<family>.<key>``, or ``<family>`` alone for
a route without a key. The simulator's control channel (``SIM_FAMILY``, plain msgpack rather
than events) and service discovery (``$SRV``, ``svc.<name>``) are no event routes: their
permissions are spelled out in ``bus/permissions.py``.
"""

from __future__ import annotations

import enum
import re
import typing
from dataclasses import dataclass
from functools import cache

from shared import events as ev
from shared.errors import Invalid
from shared.events import EVENT_TYPES, TOKEN_PATTERN, Command, Event

_TOKEN = re.compile(TOKEN_PATTERN)
MAX_KEY = 128  # the longest token the contract allows (an alert id)

ENTRY, MONITOR, DECISION, EXECUTION = "entry", "monitor", "decision", "execution"
SERVICES = (ENTRY, MONITOR, DECISION, EXECUTION)
# the user of the CLI (`v6 halt`, ...): operator commands come from it alone
OPERATOR = "operator"

COMMAND_FAMILY = "cmd"
# the simulator's control channel (``sim.<verb>``): the operator asks, the simulator answers
SIM_FAMILY = "sim"


@dataclass(frozen=True)
class Route:
    """The event types sharing one subject family, and who is on either end of them.

    ``consumers`` read them through their durable consumer on ``stream``; ``subscribers``
    through a core subscription (latest value wins). A route with a ``reply`` type is a request
    answered by one of its ``subscribers`` (a queue group), the reply going to the requester's
    private inbox.
    """

    types: tuple[type[Event], ...]
    family: str
    key: str | None = None  # the field whose value ends the subject
    stream: str | None = None  # None: core NATS
    publishers: tuple[str, ...] = ()
    consumers: tuple[str, ...] = ()
    subscribers: tuple[str, ...] = ()
    reply: type[Event] | None = None
    # each publisher under its own name only: a service's dead letters are ``dlq.<service>``
    key_is_publisher: bool = False

    def key_of(self, event: Event) -> str | None:
        if self.key is None:
            return None
        value = getattr(event, self.key)
        key = value.value if isinstance(value, enum.Enum) else str(value)
        # decoding refuses such a key; an event made in-process is checked here, before it
        # becomes a subject the server would refuse or misroute
        if not _TOKEN.fullmatch(key) or len(key) > MAX_KEY:
            raise Invalid(f"{type(event).__name__}.{self.key} {key[:40]!r} is not a subject token")
        return key

    def subject(self, key: str | None = None) -> str:
        return self.family if key is None else f"{self.family}.{key}"

    def patterns(self, publisher: str | None = None) -> tuple[str, ...]:
        """NATS patterns covering every subject of this route (of one publisher's, given one).

        An enum key is spelled out value by value, so ``alert.<severity>`` does not also cover
        ``alert.status.<alert id>``; any other key may hold dots (``BRK.B``), hence ``>``.
        """
        if self.key is None:
            return (self.family,)
        if self.key_is_publisher and publisher is not None:
            return (self.subject(publisher),)
        values = _enum_of(self.types[0], self.key)
        if values is not None:
            return tuple(self.subject(v.value) for v in values)
        return (self.subject(">"),)


def _enum_of(cls: type[Event], field: str) -> type[enum.Enum] | None:
    hint = typing.get_type_hints(cls)[field]
    return hint if isinstance(hint, type) and issubclass(hint, enum.Enum) else None


def _command(cls: type[Command], *consumers: str) -> Route:
    return Route(
        (cls,),
        f"{COMMAND_FAMILY}.{cls.verb}",
        stream="commands",
        publishers=(OPERATOR,),
        consumers=consumers,
    )


# the JetStream streams (key → description): what moves money or must not be lost; a stream
# holds every subject under the family its routes share (``order.>`` for ``order.placed`` and
# ``order.status``)
STREAM_DESCRIPTIONS: dict[str, str] = {
    "strategy_built": "strategies to open, entry → execution",
    "orders": "order placements, status changes and fills",
    "decisions": "exit decisions, decision → execution",
    "exits": "exits carried out by execution",
    "commands": "operator commands",
    "alerts": "alerts and their status changes",
    "dlq": "dead letters: messages a service could not handle",
}

ROUTES: tuple[Route, ...] = (
    Route((ev.EntrySignalEvaluated,), "signal", "symbol", publishers=(ENTRY,)),
    Route(
        (ev.StrategyBuilt,),
        "strategy.built",
        "symbol",
        stream="strategy_built",
        publishers=(ENTRY,),
        consumers=(EXECUTION,),
        subscribers=(MONITOR,),  # the book learns the strategy before its first fill
    ),
    Route(
        (ev.OrderPlaced,),
        "order.placed",
        "strategy_id",
        stream="orders",
        publishers=(EXECUTION,),
        consumers=(MONITOR, ENTRY),
    ),
    Route(
        (ev.OrderStatusChanged, ev.OrderFilled, ev.OrderRejected, ev.OrderDenied),
        "order.status",
        "strategy_id",
        stream="orders",
        publishers=(EXECUTION,),
        consumers=(MONITOR, ENTRY),
    ),
    Route(
        (ev.ExitExecuted,),
        "exit",
        "strategy_id",
        stream="exits",
        publishers=(EXECUTION,),
        consumers=(MONITOR, ENTRY, DECISION),
    ),
    Route(
        (ev.MarketDataUpdated,),
        "md",
        "symbol",
        publishers=(EXECUTION,),
        subscribers=(ENTRY, MONITOR),
    ),
    Route((ev.BrokerConnectionChanged,), "broker.state", publishers=(EXECUTION,)),
    Route((ev.BrokerPositionsReconciled,), "broker.reconciled", publishers=(EXECUTION,)),
    Route(
        (ev.PositionSnapshot,),
        "position",
        "strategy_id",
        publishers=(MONITOR,),
        subscribers=(DECISION,),
    ),
    Route((ev.PositionOpened, ev.PositionClosed), "book", "strategy_id", publishers=(MONITOR,)),
    Route(
        (ev.DecisionMade,),
        "decision",
        "strategy_id",
        stream="decisions",
        publishers=(DECISION,),
        consumers=(EXECUTION,),
    ),
    Route(
        (ev.AlertRaised,),
        "alert",
        "severity",
        stream="alerts",
        publishers=(DECISION, EXECUTION),
    ),
    Route(
        (ev.AlertStatusChanged,),
        "alert.status",
        "alert_id",
        stream="alerts",
        publishers=(DECISION,),
    ),
    # in this order, each consumer's filter lists its verbs as the deployed consumers have them
    _command(ev.SnapshotNow, MONITOR),
    _command(ev.EvaluateEntry, ENTRY),
    _command(ev.CloseAll, EXECUTION, MONITOR),
    _command(ev.Halt, EXECUTION, ENTRY),
    _command(ev.Resume, EXECUTION, ENTRY),
    _command(ev.AcknowledgeAlert, DECISION),
    _command(ev.ResolveAlert, DECISION),
    Route(
        (ev.ChainRequested,),
        "rpc.chain",
        publishers=(ENTRY,),
        subscribers=(EXECUTION,),
        reply=ev.ChainProvided,
    ),
    Route(
        (ev.HistoryRequested,),
        "rpc.history",
        publishers=(ENTRY, MONITOR),
        subscribers=(EXECUTION,),
        reply=ev.HistoryProvided,
    ),
    Route(
        (ev.DeadLettered,),
        "dlq",
        "service",
        stream="dlq",
        publishers=(*SERVICES, OPERATOR),
        key_is_publisher=True,
    ),
)


def _by_type() -> dict[type[Event], Route]:
    table: dict[type[Event], Route] = {}
    for route in ROUTES:
        if route.stream is not None and route.stream not in STREAM_DESCRIPTIONS:
            raise ValueError(f"{route.family}: no stream {route.stream}")
        for cls in (*route.types, *((route.reply,) if route.reply else ())):
            if cls in table:
                raise ValueError(f"{cls.__name__} has two routes")
            table[cls] = route
    unrouted = [cls.__name__ for cls in EVENT_TYPES if cls not in table]
    if unrouted:
        raise ValueError(f"no route for {', '.join(unrouted)}")
    return table


_ROUTE_OF = _by_type()


def route_of(cls: type[Event]) -> Route:
    """The route of an event type (of a reply type: the request's route)."""
    try:
        return _ROUTE_OF[cls]
    except KeyError:
        raise ValueError(f"{cls.__name__} has no route in shared/routes.py") from None


def in_stream(stream: str) -> tuple[Route, ...]:
    return tuple(r for r in ROUTES if r.stream == stream)


@cache
def stream_subjects(stream: str) -> tuple[str, ...]:
    """The subjects a stream holds: everything under its routes' shared family."""
    families = [r.family.split(".") for r in in_stream(stream)]
    shared: list[str] = []
    for tokens in zip(*families, strict=False):
        if len(set(tokens)) > 1:
            break
        shared.append(tokens[0])
    if not shared:
        raise ValueError(f"the routes of stream {stream} share no family")
    return (".".join((*shared, ">")),)


def consumed(service: str, stream: str) -> tuple[type[Event], ...]:
    """The event types ``service``'s durable consumer on ``stream`` receives."""
    return tuple(cls for r in in_stream(stream) if service in r.consumers for cls in r.types)


@cache
def durable_filters(service: str, stream: str) -> tuple[str, ...]:
    """The filter subjects of ``service``'s durable consumer on ``stream`` (none: it has none).

    A consumer of every route in the stream filters on the stream's subjects, else on its own
    routes' subjects: the filters of the deployed consumers, which the server keeps as given.
    """
    routes = in_stream(stream)
    mine = [r for r in routes if service in r.consumers]
    if mine and len(mine) == len(routes):
        return stream_subjects(stream)
    return tuple(p for r in mine for p in r.patterns())


def published_by(user: str) -> tuple[str, ...]:
    """The subject patterns ``user`` publishes events on (requests included)."""
    return tuple(p for r in ROUTES if user in r.publishers for p in r.patterns(user))


def subscribed_by(user: str) -> tuple[str, ...]:
    """The subject patterns of ``user``'s core subscriptions (requests it answers included)."""
    return tuple(p for r in ROUTES if user in r.subscribers for p in r.patterns())


def requesters_of(user: str) -> tuple[str, ...]:
    """The users whose requests ``user`` answers (the publishers of its request routes)."""
    asking = (p for r in ROUTES if r.reply and user in r.subscribers for p in r.publishers)
    return tuple(dict.fromkeys(asking))
