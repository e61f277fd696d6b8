"""Answers on a secured bus go only into the asker's inbox, and each service answers for itself.

The attack these tests replay: with ``allow_responses`` every user that received a request
could publish its answer to the request's reply subject, whatever the requester had put there,
so an anonymous ``$SRV.PING`` with ``v6.cmd.close_all`` as its reply made every service's ping
answer land on that subject (and on the simulator's control channel, and in the streams).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import nats
import pytest
from fixtures.waiting import until

from desk.cli.status import discover, health
from shared.routes import SERVICES
from shared.service import Runtime, ServiceDef, run_service

FORGED_REPLIES = ("v6.cmd.close_all", "v6.strategy.built.SPY", "v6.order.status.x", "v6.sim.pause")


async def _nothing(rt: Runtime) -> None:
    return None


@pytest.fixture
async def runtimes(secured: Any) -> AsyncIterator[list[Runtime]]:
    """The four services' runtimes, each logged in as itself, answering nats.micro."""
    async with contextlib.AsyncExitStack() as stack:
        yield [
            await stack.enter_async_context(
                run_service(ServiceDef(name, name, (), _nothing), secured.config)
            )
            for name in SERVICES
        ]


async def test_a_ping_cannot_make_the_services_answer_on_a_subject_of_the_system(
    secured: Any, raw, runtimes: list[Runtime]
):
    admin = await raw("admin")
    landed: list[str] = []

    async def on_msg(msg: Any) -> None:
        landed.append(msg.subject)

    await admin.nc.subscribe("v6.>", cb=on_msg)
    await admin.nc.flush()
    anonymous = await nats.connect(secured.url)  # no credentials: the discovery user
    try:
        for reply in FORGED_REPLIES:
            await anonymous.publish("$SRV.PING", b"", reply=reply)
            await anonymous.publish("$SRV.PING.execution", b"", reply=reply)
        await anonymous.flush()
    finally:
        await anonymous.close()
    # the services answer a ping in order: once they answered this one, the forged ones are done
    answered = {r["name"] for r in await discover(secured.url, wait=1.0)}
    assert answered == set(SERVICES)
    await admin.nc.flush()  # a forged answer the server let through has reached admin by now
    assert landed == []
    for stream in ("V6_COMMANDS", "V6_STRATEGY_BUILT", "V6_ORDERS"):
        assert (await admin.nc.jetstream().stream_info(stream)).state.messages == 0


async def test_the_server_refuses_an_answer_onto_a_subject_the_responder_may_not_publish(
    secured: Any, raw
):
    # a responder without the runtime's inbox check: the allow-lists alone stop it (and no user
    # has allow_responses, which would let the answer through whatever the allow-lists say)
    admin, decision = await raw("admin"), await raw("decision")
    landed: list[str] = []

    async def on_msg(msg: Any) -> None:
        landed.append(msg.subject)

    async def answer(msg: Any) -> None:
        await decision.nc.publish(msg.reply, b"pong")

    await admin.nc.subscribe("v6.>", cb=on_msg)
    await decision.nc.subscribe("$SRV.PING", cb=answer)
    await admin.nc.flush()
    await decision.nc.flush()
    anonymous = await nats.connect(secured.url)
    try:
        await anonymous.publish("$SRV.PING", b"", reply="v6.cmd.close_all")
        await anonymous.flush()
    finally:
        await anonymous.close()
    await until(lambda: bool(decision.errors))
    await admin.nc.flush()
    assert "permissions violation" in str(decision.errors[0])
    assert landed == []


async def test_the_operator_and_anonymous_clients_still_get_their_answers(
    secured: Any, runtimes: list[Runtime]
):
    as_operator = await discover(secured.url, "INFO", credentials_dir=str(secured.secrets))
    anonymous = await discover(secured.url, "STATS")
    assert {r["name"] for r in as_operator} == {r["name"] for r in anonymous} == set(SERVICES)
    assert await health(secured.url, "execution") == 0


@pytest.mark.parametrize(
    "subject",
    ["$SRV.PING.execution", "$SRV.*.execution", "$SRV.INFO.execution.x", "$SRV.>"],
)
async def test_a_service_user_may_not_answer_discovery_for_another_service(raw, subject: str):
    entry = await raw("entry")
    await entry.nc.subscribe(subject)
    await entry.nc.flush()
    await until(lambda: bool(entry.errors))
    assert "permissions violation" in str(entry.errors[0])


async def test_execution_is_not_healthy_for_an_impostor(secured: Any, raw):
    entry = await raw("entry")

    async def pose(msg: Any) -> None:
        await msg.respond(b'{"name": "execution"}')

    await entry.nc.subscribe("$SRV.PING.execution", cb=pose)
    await entry.nc.flush()
    await until(lambda: bool(entry.errors))
    assert await health(secured.url, "execution", timeout=0.5) == 1
