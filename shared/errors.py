"""Errors that tell the bus what to do with a consumed message (style.md, "Errors, retries").

The one decision point (``shared.bus.outcome.decide``) maps them:
- ``Transient``: the work may succeed later (IB or NATS timeout, a broker not connected) →
  nak with back-off from the server's delivery count;
- ``Refused``: a business "no" the handler has already published as an event → ack;
- ``Invalid``: the message can never be handled (bad content past decoding) → dead letter now;
- anything else is a bug or an unforeseen state → nak with back-off, then dead letter once the
  server's delivery count reaches ``nats.max_deliveries``.
"""

from __future__ import annotations


class V6Error(Exception):
    """Base of the project's own errors."""


class Transient(V6Error):
    """Retry later: the cause is outside the message (timeouts, a lost connection)."""


class IBTimeout(Transient):
    """An IB request did not answer within ``ib.request_timeout_s``."""


class Refused(V6Error):
    """A business refusal already recorded as an event; the message is done with."""


class Invalid(V6Error):
    """The message decodes but can never be handled; retrying would not help."""
