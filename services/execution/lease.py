"""One active execution per IB account: a lease in a JetStream key-value bucket.

IB order ids belong to one connection, so two executions (a container restarted by an
orchestrator, an operator's second `v6 up`) must never trade one account. The instance whose
name is in the account's key of the lease bucket trades; any other waits as a standby and does
not connect to IB at all.

The bucket's ``max_age`` is the lease's TTL (``execution_lease.ttl_s``): every renewal is a new
revision of the key (history 1), which the server drops ``ttl_s`` after it wrote it. So:

- ``create`` takes the lease only if the key is absent (never held, lapsed, or released);
- the holder renews every ``renew_every_s`` with ``update(last=revision)``, a compare-and-set:
  it succeeds only if the key still holds the revision this instance wrote last, so a success
  proves that no one else held the lease in between (a lapsed key fails it too);
- the holder counts itself valid only until ``ttl_s - renew_every_s`` after it *sent* its last
  successful renewal. The server dates the revision on receipt, later, so a standby can take
  over only after the holder has stopped by its own clock. A holder that cannot renew by then,
  or whose key holds another instance, has lost the lease, for good: it places nothing more
  (``IBClient`` asks ``valid`` before every order), and the service disconnects from IB and
  exits non-zero so that its supervisor starts it again, as a standby;
- a standby tries ``create`` every ``renew_every_s``: it takes over within ``ttl_s`` plus one
  try (plus the server's expiry sweep, measured at 10-300 ms) of its holder's last renewal;
- a clean stop deletes the key (compare-and-set again), so a standby need not wait the TTL out.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import math
import os
import re
import socket
import time
import uuid

import nats.errors
from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue

from shared.bus import Bus
from shared.bus.streams import ensure_lease_bucket, lease_bucket
from shared.config import Config, ExecutionLeaseConfig, IBConfig
from shared.errors import V6Error

log = logging.getLogger(__name__)

# what a lease call meets while NATS, or a cluster's stream leader, is away: tried again
UNREACHABLE = (nats.errors.Error, TimeoutError)


class LeaseRole(enum.StrEnum):
    STANDBY = "standby"
    HOLDER = "holder"
    LOST = "lost"


class LeaseMisconfigured(V6Error):
    """The bucket expires keys after another TTL than ``execution_lease.ttl_s`` says."""


def lease_key(ib: IBConfig) -> str:
    """The account's key: its IB account, else the gateway (host and port). A gateway is logged
    in to one account, so any two instances trading through it exclude each other, whatever
    client ids they use."""
    raw = f"account.{ib.account}" if ib.account else f"gateway.{ib.host}.{ib.port}"
    return re.sub(r"[^-/_=.A-Za-z0-9]", "_", raw)  # the characters a key may hold


def instance_name() -> str:
    # unique per process: a renewal that finds this value in the key knows the key is its own
    return f"{socket.gethostname()}.{os.getpid()}.{uuid.uuid4().hex[:8]}"


class Lease:
    """This instance's claim on one account's key of the lease bucket."""

    def __init__(
        self, kv: KeyValue, key: str, config: ExecutionLeaseConfig, instance: str | None = None
    ) -> None:
        self.kv = kv
        self.key = key
        self.ttl_s = config.ttl_s
        self.renew_every_s = config.renew_every_s
        self.instance = instance or instance_name()
        self.role = LeaseRole.STANDBY
        self.lost = asyncio.Event()
        self.revision = 0
        self._value = self.instance.encode()
        self._valid_until = 0.0  # time.monotonic()
        self._holder_seen: bytes | None = None

    def valid(self) -> bool:
        """Whether this instance may trade the account now: it holds the lease and, by its own
        clock, the lease cannot have lapsed at the server yet."""
        return self.role is LeaseRole.HOLDER and time.monotonic() < self._valid_until

    def _confirmed(self, sent: float, revision: int) -> None:
        self.revision = revision
        # the server's TTL runs from its receipt of the write, after ``sent``; the margin of a
        # renewal period covers a renewal loop that wakes late at the deadline
        self._valid_until = sent + self.ttl_s - self.renew_every_s

    async def try_acquire(self) -> bool:
        """Take the lease if no instance holds it; False while one does."""
        sent = time.monotonic()
        try:
            revision = await self.kv.create(self.key, self._value)
        except KeyWrongLastSequenceError:
            await self._note_holder()
            return False
        self._confirmed(sent, revision)
        self.role = LeaseRole.HOLDER
        log.info(
            "execution lease taken",
            extra={"key": self.key, "instance": self.instance, "revision": revision},
        )
        return True

    async def acquire(self) -> None:
        """Wait as a standby until the lease is this instance's."""
        while True:
            try:
                if await self.try_acquire():
                    return
            except UNREACHABLE as exc:
                log.warning("execution lease unreachable; standing by", extra={"error": repr(exc)})
            await asyncio.sleep(self.renew_every_s)

    async def _note_holder(self) -> None:
        """Log who holds the lease when that changes (a standby tries every renewal period)."""
        try:
            holder = (await self.kv.get(self.key)).value
        except UNREACHABLE:  # lapsed since (KeyNotFoundError), or unreadable: the next try tells
            return
        if holder != self._holder_seen:
            self._holder_seen = holder
            log.info(
                "execution lease held by another instance: standing by",
                extra={"key": self.key, "holder": (holder or b"").decode(errors="replace")},
            )

    async def keep(self) -> None:
        """Renew the held lease; returns once it is lost (``lost`` is set then)."""
        wait = self.renew_every_s
        while True:
            await asyncio.sleep(max(0.0, min(wait, self._valid_until - time.monotonic())))
            if not self.valid():
                self._lose("not renewed before it could lapse")
                return
            try:
                renewed = await self._renew()
            except UNREACHABLE as exc:
                log.warning("execution lease renewal failed; retrying", extra={"error": repr(exc)})
                wait = self.renew_every_s / 3
                continue
            if not renewed:
                self._lose("the key no longer holds this instance")
                return
            wait = self.renew_every_s

    async def _renew(self) -> bool:
        """One compare-and-set renewal; False if the key is no longer this instance's."""
        sent = time.monotonic()
        try:
            revision = await self.kv.update(self.key, self._value, last=self.revision)
        except KeyWrongLastSequenceError:
            # a renewal whose answer was lost (a timeout) may still have landed: if the key
            # holds this instance, its revision is the one to build on
            try:
                entry = await self.kv.get(self.key)
            except KeyNotFoundError:
                return False
            if entry.value != self._value or entry.revision is None:
                return False
            sent = time.monotonic()
            revision = await self.kv.update(self.key, self._value, last=entry.revision)
        self._confirmed(sent, revision)
        return True

    def _lose(self, reason: str) -> None:
        self.role = LeaseRole.LOST
        self.lost.set()
        log.error(
            "execution lease lost: no more orders from this instance",
            extra={"key": self.key, "instance": self.instance, "reason": reason},
        )

    async def release(self) -> None:
        """Give the lease up (a clean stop): a standby takes over at its next try."""
        if self.role is not LeaseRole.HOLDER:
            return
        self.role = LeaseRole.STANDBY
        try:
            await self.kv.delete(self.key, last=self.revision)
        except UNREACHABLE as exc:
            log.warning(
                "execution lease not released: it lapses after its TTL",
                extra={"error": repr(exc), "ttl_s": self.ttl_s},
            )
            return
        log.info("execution lease released", extra={"key": self.key})


async def open_lease(bus: Bus, config: Config) -> Lease:
    """This instance's lease on the configured account (the bucket created first when the
    service manages its streams; else the admin provisioned it)."""
    settings = config.execution_lease
    if config.nats.manage_streams:
        await ensure_lease_bucket(bus.js, config.nats, settings.ttl_s)
    # a lease call gives up within a renewal period: a silent server costs one period, no more
    js = bus.nc.jetstream(timeout=settings.renew_every_s)
    kv = await js.key_value(lease_bucket(config.nats.subject_prefix))
    ttl = (await kv.status()).ttl
    # a shorter TTL at the server would let a standby take over while this instance trades
    if ttl is None or not math.isclose(ttl, settings.ttl_s, abs_tol=1e-3):
        raise LeaseMisconfigured(
            f"the lease bucket expires keys after {ttl} s, execution_lease.ttl_s is "
            f"{settings.ttl_s} s: provision again (`v6 provision`) or set the same TTL"
        )
    return Lease(kv, lease_key(config.ib), settings)
