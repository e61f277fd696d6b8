"""Where a service's answers may go: into a requester's inbox, nowhere else.

NATS checks no reply subject: a requester names any subject it likes as the reply of its
request, and the answer is published there under the responder's rights. The server's
allow-lists (``permissions.py``: no ``allow_responses``, publishing only into the inboxes of
who may ask) keep a service from answering onto what it may not publish (``v6.cmd.close_all``,
``v6.sim.pause``); this keeps it from answering onto what it may: an anonymous ``$SRV.PING``
with ``v6.strategy.built.SPY`` as its reply would have put entry's ping answer into the
strategy stream. Every message a service's connection receives answers only into an inbox:
nats.micro's discovery answers and ``Bus.serve``'s go through ``Msg.respond``. (The health
endpoint answers through nats.micro's ``Request``, which bypasses it: only the admin may ask it.)
"""

from __future__ import annotations

import logging

from nats.aio.client import Client
from nats.aio.msg import Msg

from shared.bus.permissions import INBOX

log = logging.getLogger(__name__)


def is_inbox(subject: str) -> bool:
    """Whether ``subject`` is a reply inbox: ``_INBOX.…`` (anonymous clients) or a user's
    private ``_INBOX_<user>.…``; never an event subject."""
    first = subject.split(".", 1)[0]
    return first == INBOX or first.startswith(f"{INBOX}_")


class InboxAnswer(Msg):
    """A received message that answers only into an inbox; any other answer is dropped."""

    async def respond(self, data: bytes) -> None:
        if not is_inbox(self.reply):
            log.warning(
                "not answered: the reply subject is no inbox",
                extra={"subject": self.subject, "reply": self.reply},
            )
            return
        await super().respond(data)


class ServiceClient(Client):
    """The nats-py client of a service: what it receives answers only into inboxes."""

    msg_class = InboxAnswer
