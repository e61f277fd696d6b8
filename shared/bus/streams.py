"""Every JetStream stream and durable consumer, built from the route table and created at start-up.

Market data (``md``), position snapshots, signals, book events and request/reply (``rpc``) stay on
core NATS: latest value wins, or the caller retries. What moves money or must not be lost
(strategies, orders, decisions, exits, commands, alerts, dead letters) is in a stream: which one,
and which services consume it durably, is declared once in ``shared/routes.py``. One key-value
bucket holds execution's lease on its IB account (``services/execution/lease.py``).
"""

from __future__ import annotations

import dataclasses
import logging
import re
from dataclasses import dataclass

from nats.js import JetStreamContext
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    DiscardPolicy,
    KeyValueConfig,
    StorageType,
    StreamConfig,
)
from nats.js.errors import BadRequestError, NotFoundError

from shared import routes
from shared.config import Config, NatsConfig

log = logging.getLogger(__name__)


LEASE_BUCKET = "execution_lease"


def _server_name(prefix: str, key: str) -> str:
    # stream and bucket names allow no dots or wildcards; the prefix keeps test runs apart
    return re.sub(r"[^A-Za-z0-9_-]", "_", f"{prefix}_{key}").upper()


def lease_bucket(prefix: str) -> str:
    """The key-value bucket of execution's lease (JetStream keeps it as stream ``KV_<name>``)."""
    return _server_name(prefix, LEASE_BUCKET)


@dataclass(frozen=True)
class StreamSpec:
    """A stream: ``key`` names it in this table; subjects are relative to the prefix."""

    key: str
    subjects: tuple[str, ...]
    description: str

    def name(self, prefix: str) -> str:
        return _server_name(prefix, self.key)

    def full_subjects(self, prefix: str) -> list[str]:
        return [f"{prefix}.{s}" for s in self.subjects]


@dataclass(frozen=True)
class ConsumerSpec:
    """A durable pull consumer of one service on one stream; filters relative to the prefix."""

    service: str
    stream: str
    filter_subjects: tuple[str, ...]

    @property
    def durable(self) -> str:
        return f"{self.service}-{self.stream}"

    def full_filters(self, prefix: str) -> list[str]:
        return [f"{prefix}.{s}" for s in self.filter_subjects]


STREAMS: tuple[StreamSpec, ...] = tuple(
    StreamSpec(key, routes.stream_subjects(key), description)
    for key, description in routes.STREAM_DESCRIPTIONS.items()
)

CONSUMERS: tuple[ConsumerSpec, ...] = tuple(
    ConsumerSpec(service, stream, filters)
    for service in routes.SERVICES
    for stream in routes.STREAM_DESCRIPTIONS
    if (filters := routes.durable_filters(service, stream))
)

_STREAMS_BY_KEY = {s.key: s for s in STREAMS}


def consumers_of(service: str) -> tuple[ConsumerSpec, ...]:
    return tuple(c for c in CONSUMERS if c.service == service)


def consumer(service: str, stream: str) -> ConsumerSpec:
    for spec in CONSUMERS:
        if spec.service == service and spec.stream == stream:
            return spec
    raise KeyError(f"no consumer of {service} on {stream} in shared/routes.py")


def subject_matches(pattern: str, subject: str) -> bool:
    """NATS wildcard match: ``*`` one token, ``>`` one or more trailing tokens."""
    p, s = pattern.split("."), subject.split(".")
    for i, token in enumerate(p):
        if token == ">":
            return len(s) > i
        if i >= len(s) or (token != "*" and token != s[i]):
            return False
    return len(p) == len(s)


def stream_of(subject: str, prefix: str) -> StreamSpec | None:
    """The stream holding ``subject``, or None for a core NATS subject."""
    for spec in STREAMS:
        if any(subject_matches(p, subject) for p in spec.full_subjects(prefix)):
            return spec
    return None


def stream_config(spec: StreamSpec, config: NatsConfig) -> StreamConfig:
    return StreamConfig(
        name=spec.name(config.subject_prefix),
        subjects=spec.full_subjects(config.subject_prefix),
        description=spec.description,
        storage=StorageType.FILE if config.storage == "file" else StorageType.MEMORY,
        num_replicas=config.replicas,
        duplicate_window=config.duplicate_window_s,
        # bounded by count, size and age, the oldest going first (nats.stream_max_* settings)
        max_msgs=config.stream_max_msgs,
        max_bytes=config.stream_max_bytes,
        max_age=config.stream_max_age_s,
        discard=DiscardPolicy.OLD,
    )


def consumer_config(spec: ConsumerSpec, config: NatsConfig) -> ConsumerConfig:
    return ConsumerConfig(
        durable_name=spec.durable,
        ack_policy=AckPolicy.EXPLICIT,
        deliver_policy=DeliverPolicy.ALL,
        ack_wait=config.ack_wait_s,
        max_deliver=config.max_deliveries,
        filter_subjects=spec.full_filters(config.subject_prefix),
    )


async def ensure_streams(js: JetStreamContext, config: NatsConfig) -> None:
    """Create every stream, or update it to the declared config; safe to run on every start."""
    for spec in STREAMS:
        wanted = stream_config(spec, config)
        try:
            await js.stream_info(wanted.name)
        except NotFoundError:
            await js.add_stream(wanted)
            log.info("stream created", extra={"stream": wanted.name})
        else:
            await js.update_stream(wanted)


def stream_name(spec: ConsumerSpec, prefix: str) -> str:
    """The server's name of the stream a consumer reads."""
    return _STREAMS_BY_KEY[spec.stream].name(prefix)


async def ensure_consumer(js: JetStreamContext, spec: ConsumerSpec, config: NatsConfig) -> str:
    """Create the durable consumer (the server updates a changed one); returns its stream name."""
    stream = stream_name(spec, config.subject_prefix)
    try:
        await js.add_consumer(stream, consumer_config(spec, config))
    except BadRequestError as exc:
        # an existing durable whose config cannot change in place: keep it, say so
        log.warning("consumer kept as is", extra={"durable": spec.durable, "error": str(exc)})
    return stream


async def ensure_lease_bucket(js: JetStreamContext, config: NatsConfig, ttl_s: float) -> None:
    """Create the lease bucket, or set its TTL and replicas to these; safe on every start.

    The bucket's ``max_age`` is the lease's TTL: every renewal is a new revision of the key
    (history 1), which the server drops ``ttl_s`` after writing it unless renewed again.
    """
    name = lease_bucket(config.subject_prefix)
    try:
        info = await js.stream_info(f"KV_{name}")
    except NotFoundError:
        await js.create_key_value(
            KeyValueConfig(
                bucket=name,
                description="execution's lease on its IB account: one active instance",
                history=1,
                ttl=ttl_s,
                storage=StorageType.FILE if config.storage == "file" else StorageType.MEMORY,
                replicas=config.replicas,
            )
        )
        log.info("lease bucket created", extra={"bucket": name, "ttl_s": ttl_s})
        return
    if info.config.max_age != ttl_s or info.config.num_replicas != config.replicas:
        # the server refuses a duplicate window longer than max_age
        window = min(info.config.duplicate_window or ttl_s, ttl_s)
        await js.update_stream(
            dataclasses.replace(
                info.config, max_age=ttl_s, num_replicas=config.replicas, duplicate_window=window
            )
        )
        log.info("lease bucket updated", extra={"bucket": name, "ttl_s": ttl_s})


async def provision(js: JetStreamContext, config: Config) -> None:
    """Every stream, every declared consumer and the lease bucket: the admin's job on a secured
    server, where services (``nats.manage_streams = false``) only bind to what exists."""
    await ensure_streams(js, config.nats)
    for spec in CONSUMERS:
        await ensure_consumer(js, spec, config.nats)
    await ensure_lease_bucket(js, config.nats, config.execution_lease.ttl_s)
