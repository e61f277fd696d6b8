"""The handler of a consumer whose workflow is not written yet: it records receipt in the log."""

from __future__ import annotations

import logging

from shared.bus.client import Delivery
from shared.events import Event

log = logging.getLogger(__name__)


async def log_receipt(event: Event, delivery: Delivery) -> None:
    log.info(
        "received",
        extra={
            "event": type(event).__name__,
            "event_id": event.event_id,
            "subject": delivery.subject,
            "deliveries": delivery.deliveries,
        },
    )
