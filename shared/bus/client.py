"""The bus: one NATS connection per service, typed publish/subscribe, durable consumers.

Handlers never ack: ``_settle`` applies the verdict of ``outcome.decide`` to every consumed
message, after its handler has returned and the fetched batch's table rows are committed.
Handlers of one consumer run in sequence, so ``ack_wait`` must exceed a batch's handling time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import msgspec
import nats
import nats.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext

from shared.bus import credentials
from shared.bus.answers import ServiceClient
from shared.bus.lifeline import Lifeline, OnLost
from shared.bus.outcome import UNHANDLEABLE, Verdict, decide, is_transient
from shared.bus.permissions import ProducerCheck
from shared.bus.streams import ConsumerSpec, ensure_consumer, stream_name, stream_of
from shared.clock import Clock, WallClock
from shared.config import NatsConfig
from shared.errors import Transient
from shared.events import AnyEvent, Codec, DeadLettered, Event, encode
from shared.subjects import Subjects

log = logging.getLogger(__name__)

PUBLISH_ATTEMPTS = 5
FETCH_TIMEOUT_S = 1.0
NO_RESPONDERS_RETRY_S = 0.05
# room for the trimmed-payload header and the publish's own Nats-Msg-Id header
DEAD_LETTER_MARGIN = 256


@dataclass(frozen=True)
class Delivery:
    """How a consumed message arrived: what a handler may need beyond the event itself."""

    subject: str
    stream_seq: int
    deliveries: int  # the server's count, 1 on the first delivery
    headers: dict[str, str]
    data: bytes


Handler = Callable[[Any, Delivery], Awaitable[None]]
CoreHandler = Callable[[Any], Awaitable[None]]
Responder = Callable[[Any], Awaitable[Event]]
Commit = Callable[[], Awaitable[None]]


def _error_text(error: BaseException) -> str:
    # msgspec's message already carries the path (`- at `$.legs[0].strike``)
    return f"{type(error).__name__}: {error}"


@dataclass
class _Consumer:
    spec: ConsumerSpec
    task: asyncio.Task[None]


class Bus:
    """A connected service's view of NATS. Build it with ``connect``."""

    def __init__(
        self,
        nc: Client,
        config: NatsConfig,
        service: str,
        lifeline: Lifeline,
        clock: Clock | None = None,
    ) -> None:
        self.nc = nc
        self.lifeline = lifeline
        # every event received tells the service's clock the market time (architecture: Time)
        self.clock: Clock = clock or WallClock()
        self.js: JetStreamContext = nc.jetstream()
        self.config = config
        self.service = service
        self.subjects = Subjects(config.subject_prefix)
        # a test stand-in is believed only on an unsecured server, where anyone may publish anyway
        trusted = () if config.secured else config.trusted_producers
        self.producers = ProducerCheck(config.subject_prefix, config.verify_producer, trusted)
        self._consumers: list[_Consumer] = []
        self._subs: list[Any] = []
        self._stopping = asyncio.Event()
        self._idle = asyncio.Event()
        self._in_flight = 0
        self._idle.set()
        self._closed = False

    # --- publishing -------------------------------------------------------------------------

    async def publish(self, event: Event, subject: str | None = None) -> Event:
        """Publish; through JetStream (de-duplicated by event id) when a stream holds the subject.

        Returns the event as sent (with ``producer`` stamped).
        """
        if not event.producer:
            event = msgspec.structs.replace(event, producer=self.service)
        subject = subject or self.subjects.for_event(event)
        data = encode(event)
        if stream_of(subject, self.config.subject_prefix) is None:
            await self.nc.publish(subject, data)
            return event
        headers = {"Nats-Msg-Id": event.event_id}
        attempt = 1
        while True:
            try:
                await self.js.publish(subject, data, headers=headers)
                return event
            except nats.errors.TimeoutError:
                # same msg id: the server drops the copy if the first attempt did land
                if attempt == PUBLISH_ATTEMPTS:
                    raise
                log.warning("publish timed out, retrying", extra={"subject": subject})
                await asyncio.sleep(self.config.retry_base_s * attempt)
                attempt += 1

    async def dead_letter(
        self,
        subject: str,
        data: bytes,
        error: BaseException,
        deliveries: int = 1,
        headers: dict[str, str] | None = None,
        event_id: str | None = None,
    ) -> None:
        letter = DeadLettered(
            service=self.service,
            subject=subject,
            error_type=type(error).__name__,
            error=_error_text(error),
            payload=data,
            deliveries=deliveries,
            headers=headers or {},
        )
        if event_id:
            letter = msgspec.structs.replace(letter, event_id=event_id)
        letter = self._fit(letter)
        log.error(
            "dead-lettered",
            extra={"subject": subject, "error": letter.error, "deliveries": deliveries},
        )
        await self.publish(letter)

    def _fit(self, letter: DeadLettered) -> DeadLettered:
        """The letter, its payload cut to fit the server's max payload (the original size in
        the ``V6-Payload-Bytes`` header): a letter the server refuses would lose the message."""
        excess = len(encode(letter)) + DEAD_LETTER_MARGIN - self.nc.max_payload
        if excess <= 0:
            return letter
        headers = {**letter.headers, "V6-Payload-Bytes": str(len(letter.payload))}
        payload = letter.payload[: max(0, len(letter.payload) - excess)]
        return msgspec.structs.replace(letter, payload=payload, headers=headers)

    # --- core subscriptions and request/reply ----------------------------------------------

    async def subscribe(
        self,
        subject: str,
        handler: CoreHandler,
        types: Any = AnyEvent,
        queue: str = "",
    ) -> None:
        """A core subscription (latest value wins); undecodable messages are dead-lettered."""
        codec = Codec(types)

        async def on_msg(msg: Msg) -> None:
            try:
                event = self._receive(codec, msg)
            except UNHANDLEABLE as exc:
                await self.dead_letter(msg.subject, msg.data, exc)
                return
            async with self._track():
                try:
                    await handler(event)
                except Exception:
                    log.exception("handler failed", extra={"subject": msg.subject})

        self._subs.append(await self.nc.subscribe(subject, queue=queue, cb=on_msg))

    def _receive(self, codec: Codec[Any], msg: Msg) -> Any:
        """Decode and check the producer: raises one of ``UNHANDLEABLE`` for a dead letter."""
        event = codec.decode(msg.data)
        self.producers.verify(event, msg.subject)
        self.clock.observe(getattr(event, "market_time", None))
        return event

    async def request(
        self,
        event: Event,
        subject: str,
        reply_type: Any,
        timeout: float = 5.0,
    ) -> Any:
        """Request/reply on a subject outside every stream.

        Raises ``nats.errors.TimeoutError``, or ``NoRespondersError`` if none appears in time.
        """
        if not event.producer:
            event = msgspec.structs.replace(event, producer=self.service)
        data = encode(event)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            try:
                msg = await self.nc.request(subject, data, timeout=deadline - loop.time())
                return Codec(reply_type).decode(msg.data)
            except nats.errors.NoRespondersError:
                # seen for a few ms after a responder subscribed (measured: 2-8% of requests
                # in a loop, nats-server 2.15), and while one restarts: retry within the timeout
                if loop.time() + NO_RESPONDERS_RETRY_S >= deadline:
                    raise
                await asyncio.sleep(NO_RESPONDERS_RETRY_S)

    async def serve(self, subject: str, handler: Responder, types: Any = AnyEvent) -> None:
        """Answer requests on ``subject`` (queue group: the service), one reply per request."""
        if stream_of(subject, self.config.subject_prefix) is not None:
            raise ValueError(f"{subject} is inside a stream: JetStream would answer it")
        codec = Codec(types)

        async def on_request(msg: Msg) -> None:
            try:
                request = self._receive(codec, msg)
            except UNHANDLEABLE as exc:
                await self.dead_letter(msg.subject, msg.data, exc)
                return
            async with self._track():
                try:
                    reply = await handler(request)
                except Exception:
                    # the requester times out and decides; the cause is in this log
                    log.exception("request handler failed", extra={"subject": subject})
                    return
            if not reply.producer:
                reply = msgspec.structs.replace(reply, producer=self.service)
            await msg.respond(encode(reply))

        self._subs.append(await self.nc.subscribe(subject, queue=self.service, cb=on_request))

    # --- durable consumers -----------------------------------------------------------------

    async def consume(
        self,
        spec: ConsumerSpec,
        handler: Handler,
        types: Any = AnyEvent,
        commit: Commit | None = None,
    ) -> None:
        """Start a durable pull consumer task calling ``handler(event, delivery)``.

        ``commit`` (the runtime passes "flush this service's table batches") runs once per
        fetched batch, after the handlers and before any ack: the rows handlers queued are
        durable before their messages are acked, with one commit per batch, not per message.
        """
        if self.config.manage_streams:
            stream = await ensure_consumer(self.js, spec, self.config)
        else:  # provisioned by the admin (`v6 up`): a secured service may not create consumers
            stream = stream_name(spec, self.config.subject_prefix)
        psub = await self.js.pull_subscribe_bind(durable=spec.durable, stream=stream)
        codec = Codec(types)
        task = asyncio.create_task(
            self._pull(spec, psub, codec, handler, commit), name=spec.durable
        )
        self._consumers.append(_Consumer(spec, task))

    async def _pull(
        self,
        spec: ConsumerSpec,
        psub: JetStreamContext.PullSubscription,
        codec: Codec[Any],
        handler: Handler,
        commit: Commit | None,
    ) -> None:
        while not self._stopping.is_set():
            try:
                msgs = await self._next_batch(psub)
            except (nats.errors.TimeoutError, TimeoutError):
                # nats-py raises either, depending on where in the fetch the timeout hits
                continue
            except (nats.errors.ConnectionClosedError, nats.errors.ConnectionDrainingError):
                return
            except Exception:
                log.exception("fetch failed", extra={"durable": spec.durable})
                await asyncio.sleep(self.config.retry_base_s)
                continue
            async with self._track():
                await self._process(msgs, codec, handler, commit)
        # a pull subscription left open makes the final drain wait for its full timeout
        with contextlib.suppress(Exception):
            await psub.unsubscribe()

    async def _next_batch(self, psub: JetStreamContext.PullSubscription) -> list[Msg]:
        """The next fetched batch, or nothing once stopping: shutdown does not wait a fetch out."""
        fetch = asyncio.ensure_future(psub.fetch(self.config.fetch_batch, timeout=FETCH_TIMEOUT_S))
        stop = asyncio.ensure_future(self._stopping.wait())
        try:
            await asyncio.wait({fetch, stop}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()
        if fetch.done():
            return fetch.result()
        # messages the abandoned pull brings stay unacked and come back after ack_wait
        fetch.cancel()
        with contextlib.suppress(BaseException):
            await fetch
        return []

    async def _process(
        self, msgs: list[Msg], codec: Codec[Any], handler: Handler, commit: Commit | None
    ) -> None:
        handled: list[tuple[Msg, Delivery, BaseException | None]] = []
        for msg in msgs:
            if self._stopping.is_set():
                break  # the rest stay unacked: redelivered after ack_wait, to the next run
            delivery = Delivery(
                subject=msg.subject,
                stream_seq=msg.metadata.sequence.stream,
                deliveries=msg.metadata.num_delivered,
                headers=dict(msg.headers or {}),
                data=msg.data,
            )
            error: BaseException | None = None
            try:
                await handler(self._receive(codec, msg), delivery)
            except Exception as exc:
                error = exc
            handled.append((msg, delivery, error))
        if commit is not None and handled:
            try:
                await commit()
            except Exception as exc:
                log.exception("commit before ack failed")
                failed = Transient(f"table commit failed: {exc}")
                handled = [(m, d, failed if e is None else e) for m, d, e in handled]
        for msg, delivery, error in handled:
            try:
                await self._settle(msg, delivery, error)
            except Exception:
                log.exception(
                    "could not settle: the server redelivers after ack_wait",
                    extra={"subject": delivery.subject, "stream_seq": delivery.stream_seq},
                )

    async def _settle(self, msg: Msg, delivery: Delivery, error: BaseException | None) -> None:
        outcome = decide(
            error,
            delivery.deliveries,
            self.config.max_deliveries,
            self.config.retry_base_s,
            self.config.retry_max_s,
        )
        if outcome.verdict is Verdict.ACK:
            await msg.ack()
            return
        assert error is not None
        if outcome.verdict is Verdict.NAK:
            transient = is_transient(error)
            trace = "" if transient else "".join(traceback.format_exception(error, limit=5))
            log.log(
                logging.WARNING if transient else logging.ERROR,
                "handler failed, will retry",
                extra={
                    "subject": delivery.subject,
                    "deliveries": delivery.deliveries,
                    "delay_s": outcome.delay_s,
                    "error": _error_text(error),
                    "trace": trace,
                },
            )
            await msg.nak(delay=outcome.delay_s)
            return
        stream = msg.metadata.stream
        await self.dead_letter(
            delivery.subject,
            delivery.data,
            error,
            delivery.deliveries,
            delivery.headers,
            # a stable id: a crash between dead-lettering and term() does not letter it twice
            event_id=f"dlq-{self.service}-{stream}-{delivery.stream_seq}",
        )
        await msg.term()

    @contextlib.asynccontextmanager
    async def _track(self) -> Any:
        self._in_flight += 1
        self._idle.clear()
        try:
            yield
        finally:
            self._in_flight -= 1
            if self._in_flight == 0:
                self._idle.set()

    # --- shutdown ----------------------------------------------------------------------------

    async def stop_intake(self, grace_s: float = 10.0) -> None:
        """Stop fetching and subscriptions; let running handlers finish (bounded by grace_s)."""
        self._stopping.set()
        for sub in self._subs:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()
        self._subs.clear()
        tasks = [c.task for c in self._consumers]
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=FETCH_TIMEOUT_S + grace_s)
            for task in pending:
                task.cancel()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._idle.wait(), grace_s)

    async def close(self, grace_s: float = 10.0) -> None:
        """Stop intake, then drain the connection last so final publishes still go out."""
        if self._closed:
            return
        self._closed = True
        self.lifeline.release()
        await self.stop_intake(grace_s)
        with contextlib.suppress(Exception):
            await self.nc.drain()


async def connect(
    config: NatsConfig,
    name: str,
    url: str | None = None,
    clock: Clock | None = None,
    on_lost: OnLost | None = None,
) -> Bus:
    """Connect as ``name`` and reconnect with back-off.

    With ``on_lost`` (a service's runtime), reconnect for ``config.max_reconnect_s`` at most:
    ``on_lost(reason)`` is called once the connection is closed for good or not back in time
    (``lifeline.py``); without it, forever. On a secured server, log in as the user behind
    ``name`` (``credentials.login_options``); raises ``CredentialsError`` when that user has
    no credentials. What the connection receives answers only into inboxes (``answers.py``).
    """
    url = url or config.url or "nats://127.0.0.1:4222"
    login = credentials.login_options(config, name)
    lifeline = Lifeline(config.max_reconnect_s, on_lost)

    async def on_error(exc: Exception) -> None:
        log.error("nats error", extra={"error": _error_text(exc)})

    nc = ServiceClient()
    await nc.connect(
        servers=url.split(","),  # a cluster is a comma-separated list of its members
        name=name,
        max_reconnect_attempts=-1,
        reconnect_time_wait=config.reconnect_wait_s,
        error_cb=on_error,
        disconnected_cb=lifeline.on_disconnected,
        reconnected_cb=lifeline.on_reconnected,
        closed_cb=lifeline.on_closed,
        **login,
    )
    lifeline.nc = nc
    return Bus(nc, config, name, lifeline, clock)
