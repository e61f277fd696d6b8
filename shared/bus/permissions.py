"""Who may publish and subscribe what on NATS: one declaration for the server and the consumers.

The NATS users of a secured deployment (``credentials.py`` writes them into the server config)
and the producer check every consumer applies are both built from this module: a service's
allow-lists are what the route table (``shared/routes.py``) says it publishes, subscribes to
and answers, the API of its durable consumers (``streams.py``), and for execution its lease
bucket and nothing else of the key-value store. A service that may not
publish a subject on the server is also not believed when an event claims it came from it.

No user has ``allow_responses``: it lets a user publish once to the reply subject of any request
it receives, whatever that subject is, and the server checks no reply subject against the
requester's rights, so an anonymous ``$SRV.PING`` with ``v6.cmd.close_all`` as its reply made
every service publish there (a ``deny`` list does not help: the response right is granted after
it). A user that answers requests (nats.micro discovery, rpc, the simulator's control channel)
may instead publish to the private inboxes of the users that may ask it, and nowhere else.
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
from shared.routes import (
    EXECUTION,
    OPERATOR,
    SERVICES,
    SIM_FAMILY,
    published_by,
    requesters_of,
    subscribed_by,
)
from shared.subjects import Subjects

ADMIN = "admin"
TAP = "tap"
IBSIM = "ibsim"
# connections without credentials: service discovery only (`v6 status`, container healthchecks)
DISCOVERY = "discovery"
# a connection's name (``connect(config, name)``, ``Event.producer``) → the user it logs in as
CLIENT_USERS = {
    "v6-cli": OPERATOR,
    "v6-status": OPERATOR,
    "v6-health": OPERATOR,
    "v6-tap": TAP,
    "ibsim-control": IBSIM,
}
# who asks a service's nats.micro endpoints (`v6 status`, `v6 health`, container healthchecks)
DISCOVERERS = (OPERATOR, DISCOVERY)

ALL = ">"
INBOX = "_INBOX"
SRV = "$SRV"
SRV_VERBS = ("PING", "INFO", "STATS")


class WrongProducer(Invalid):
    """An event whose claimed producer may not publish it: dead-lettered, never handled."""


def user_of(name: str) -> str:
    return CLIENT_USERS.get(name, name)


def inbox_prefix(user: str) -> str:
    """A user's private reply inbox: no other user may subscribe to it. Clients without
    credentials (discovery) keep the default inbox, which only they may read."""
    return INBOX if user == DISCOVERY else f"{INBOX}_{user}"


def replies_to(*users: str) -> tuple[str, ...]:
    """What answering requests from ``users`` needs: publishing into their private inboxes."""
    return tuple(f"{inbox_prefix(user)}.>" for user in users)


def discoverable_as(name: str) -> tuple[str, ...]:
    """The ``$SRV`` subjects nats.micro answers on for service ``name``: the verbs to every
    service, and to this one by name (and instance id). No service can answer for another."""
    return (*(f"{SRV}.{verb}" for verb in SRV_VERBS), f"{SRV}.*.{name}", f"{SRV}.*.{name}.*")


@dataclass(frozen=True)
class UserPermissions:
    """One NATS user's allow-lists (absolute subjects); an empty publish list denies all."""

    user: str
    publish: tuple[str, ...]
    subscribe: tuple[str, ...]


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
    publish += replies_to(*DISCOVERERS, *requesters_of(name))
    if name == EXECUTION:
        publish += _lease_api(s.prefix)
    subscribe = [s.pattern(p) for p in subscribed_by(name)]
    subscribe += [s.wildcard("svc", name), *discoverable_as(name), *replies_to(name)]
    return UserPermissions(name, tuple(publish), tuple(subscribe))


@cache
def permissions(prefix: str) -> tuple[UserPermissions, ...]:
    """Every user of a secured deployment under ``prefix``."""
    s = Subjects(prefix)
    operator_publish = tuple(s.pattern(p) for p in published_by(OPERATOR))
    discover = tuple(p for verb in SRV_VERBS for p in (f"{SRV}.{verb}", f"{SRV}.{verb}.>"))
    return (
        *(_service(name, s) for name in SERVICES),
        UserPermissions(
            OPERATOR,
            (*operator_publish, s.wildcard(SIM_FAMILY), *discover),
            (s.all(), *replies_to(OPERATOR)),
        ),
        UserPermissions(TAP, (), (s.all(),)),
        # the simulator's control channel answers the operator alone
        UserPermissions(IBSIM, replies_to(OPERATOR), (s.wildcard(SIM_FAMILY),)),
        UserPermissions(ADMIN, (ALL,), (ALL,)),
        UserPermissions(DISCOVERY, discover, replies_to(DISCOVERY)),
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
