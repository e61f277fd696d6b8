"""Who may publish and subscribe what on NATS: one declaration for the server and the consumers.

The NATS users of a secured deployment (``credentials.py`` writes them into the server config)
and the producer check every consumer applies are both built from this module: a service's
allow-lists are what the route table (``shared/routes.py``) says it publishes, subscribes to
and answers, the API of its durable consumers (``streams.py``), and for execution its lease
bucket and nothing else of the key-value store. A service that may not
publish a subject on the server is also not believed when an event claims it came from it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

from shared.bus.streams import (
    ConsumerSpec,
    consumers_of,
    lease_bucket,
    stream_name,
    subject_matches,
)
from shared.errors import Invalid
from shared.events import Event
from shared.routes import EXECUTION, OPERATOR, SERVICES, SIM_FAMILY, published_by, subscribed_by
from shared.subjects import Subjects

ADMIN = "admin"
TAP = "tap"
IBSIM = "ibsim"
# connections without credentials: service discovery only (`v6 status`, container healthchecks)
DISCOVERY = "discovery"
# a connection's name (``connect(config, name)``, ``Event.producer``) → the user it logs in as
CLIENT_USERS = {"v6-cli": OPERATOR, "v6-status": OPERATOR, "v6-health": OPERATOR, "v6-tap": TAP}

ALL = ">"
INBOX = "_INBOX"
SRV = "$SRV.>"


class WrongProducer(Invalid):
    """An event whose claimed producer may not publish it: dead-lettered, never handled."""


def user_of(name: str) -> str:
    return CLIENT_USERS.get(name, name)


def inbox_prefix(user: str) -> str:
    """A user's private reply inbox: no other user may subscribe to it."""
    return f"{INBOX}_{user}"


@dataclass(frozen=True)
class UserPermissions:
    """One NATS user's allow-lists (absolute subjects); an empty publish list denies all."""

    user: str
    publish: tuple[str, ...]
    subscribe: tuple[str, ...]
    # may answer the requests it receives (nats.micro, rpc, the simulator's control channel)
    allow_responses: bool = False


def _consumer_api(spec: ConsumerSpec, prefix: str) -> tuple[str, ...]:
    """What pulling, acking and binding one durable consumer needs (platform-notes.md)."""
    stream, durable = stream_name(spec, prefix), spec.durable
    return (
        f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{durable}",
        f"$JS.ACK.{stream}.{durable}.>",
        f"$JS.API.CONSUMER.INFO.{stream}.{durable}",
    )


def _lease_api(prefix: str) -> tuple[str, ...]:
    """What holding execution's lease needs: write its keys (create, renew, release), open the
    bucket and read a key (nats-py's ``key_value``, ``get``; no direct get on this bucket)."""
    bucket = lease_bucket(prefix)
    return (
        f"$KV.{bucket}.>",
        f"$JS.API.STREAM.INFO.KV_{bucket}",
        f"$JS.API.STREAM.MSG.GET.KV_{bucket}",
    )


def _service(name: str, s: Subjects) -> UserPermissions:
    publish = [s.pattern(p) for p in published_by(name)]
    for spec in consumers_of(name):
        publish += _consumer_api(spec, s.prefix)
    if name == EXECUTION:
        publish += _lease_api(s.prefix)
    subscribe = [s.pattern(p) for p in subscribed_by(name)]
    subscribe += [s.wildcard("svc", name), SRV, f"{inbox_prefix(name)}.>"]
    return UserPermissions(name, tuple(publish), tuple(subscribe), allow_responses=True)


@cache
def permissions(prefix: str) -> tuple[UserPermissions, ...]:
    """Every user of a secured deployment under ``prefix``."""
    s = Subjects(prefix)
    operator_publish = tuple(s.pattern(p) for p in published_by(OPERATOR))
    discovery = ("$SRV.PING", "$SRV.PING.>", "$SRV.INFO", "$SRV.INFO.>")
    return (
        *(_service(name, s) for name in SERVICES),
        UserPermissions(
            OPERATOR,
            (*operator_publish, s.wildcard(SIM_FAMILY), "$SRV.>"),
            (s.all(), f"{inbox_prefix(OPERATOR)}.>"),
        ),
        UserPermissions(TAP, (), (s.all(),)),
        UserPermissions(IBSIM, (), (s.wildcard(SIM_FAMILY),), allow_responses=True),
        UserPermissions(ADMIN, (ALL,), (ALL,), allow_responses=True),
        # replies to discovery go to the shared _INBOX, which no other user reads from
        UserPermissions(DISCOVERY, (*discovery, "$SRV.STATS", "$SRV.STATS.>"), (f"{INBOX}.>",)),
    )


def permissions_of(user: str, prefix: str) -> UserPermissions | None:
    return next((p for p in permissions(prefix) if p.user == user), None)


@cache
def _publish_patterns(user: str, prefix: str) -> tuple[str, ...]:
    perms = permissions_of(user, prefix)
    return () if perms is None else perms.publish


def may_publish(producer: str, subject: str, prefix: str) -> bool:
    """Whether the user behind ``producer`` may publish ``subject`` on a secured server."""
    patterns = _publish_patterns(user_of(producer), prefix)
    return any(subject_matches(p, subject) for p in patterns)


class ProducerCheck:
    """Refuses a consumed event whose ``producer`` may not publish it (see ``may_publish``).

    Both the subject it arrived on and the subject its type belongs on must be the producer's:
    a decision claiming to come from entry, or an order event arriving on a decision subject,
    is dead-lettered with the reason.
    """

    def __init__(self, prefix: str, enabled: bool = True, trusted: Iterable[str] = ()) -> None:
        self.subjects = Subjects(prefix)
        self.enabled = enabled
        self.trusted = frozenset(trusted)

    def verify(self, event: Event, subject: str) -> None:
        """Raise ``WrongProducer`` unless ``event.producer`` may publish ``subject``."""
        producer = event.producer
        if not self.enabled or producer in self.trusted:
            return
        for candidate in (subject, self._home(event)):
            if candidate is not None and not may_publish(producer, candidate, self.subjects.prefix):
                raise WrongProducer(
                    f"{type(event).__name__} from producer {producer!r} on {candidate}: "
                    "that producer may not publish it"
                )

    def _home(self, event: Event) -> str | None:
        try:
            return self.subjects.for_event(event)
        except ValueError:  # request/reply types have no publish subject
            return None
