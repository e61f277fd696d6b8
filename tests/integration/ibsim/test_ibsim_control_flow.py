"""The control channel over a real nats-server, and scenario files."""

from __future__ import annotations

import json

import msgspec
import nats
import pytest
from ib_async import IB, MarketOrder, Stock
from nats.errors import NoRespondersError

from services.ibsim import Simulator
from shared.config import SimConfig


async def request(nc, verb: str, body: object = None) -> dict:
    data = b"" if body is None else json.dumps(body).encode()
    reply = await nc.request(f"v6.sim.{verb}", data, timeout=2)
    return json.loads(reply.data)


@pytest.fixture
async def controlled(sim_config: SimConfig, nats_url: str):
    config = msgspec.structs.replace(sim_config, control_enabled=True)
    async with Simulator(config, nats_url=nats_url) as sim:
        nc = await nats.connect(nats_url)
        yield sim, nc
        await nc.drain()


async def test_control_verbs_move_the_market(controlled):
    sim, nc = controlled
    assert (await request(nc, "pause"))["state"]["paused"] is True

    reply = await request(nc, "set_price", {"symbol": "SPY", "price": 600.0})
    assert reply["ok"] and reply["state"]["prices"]["SPY"] == 600.0
    reply = await request(nc, "jump", {"symbol": "SPY", "pct": -0.05})
    assert reply["state"]["prices"]["SPY"] == pytest.approx(570.0)
    assert (await request(nc, "set_vix", {"value": 31.0}))["state"]["vix"] == 31.0
    await request(nc, "shock_iv", {"pct": 0.5, "symbol": "QQQ"})
    assert sim.market.underlyings["QQQ"].iv_shock == pytest.approx(1.5)

    before = sim.market.now
    await request(nc, "advance", {"seconds": 86400})
    assert (sim.market.now - before).total_seconds() == 86400

    packed = await nc.request("v6.sim.resume", msgspec.msgpack.encode({}), timeout=2)
    assert json.loads(packed.data)["state"]["paused"] is False


async def test_control_reports_bad_requests_without_stopping(controlled):
    _, nc = controlled
    reply = await request(nc, "set_price", {"symbol": "NOPE", "price": 1.0})
    assert reply["ok"] is False and "NOPE" in reply["error"]
    assert (await request(nc, "state"))["ok"] is True


async def test_reject_next_order_and_disconnect_all_over_control(controlled, ib_errors, until):
    ib_errors.expect(r"^Error 201|Peer closed connection")
    sim, nc = controlled
    ib = IB()
    await ib.connectAsync("127.0.0.1", sim.port, clientId=3, timeout=3)
    await request(nc, "reject_next_order", {"reason": "scenario says no"})
    trade = ib.placeOrder(Stock("SPY", "SMART", "USD"), MarketOrder("BUY", 1))
    await until(lambda: trade.orderStatus.status == "Inactive")  # refused, as IB leaves it
    assert any("scenario says no" in entry.message for entry in trade.log)

    await request(nc, "disconnect_all")
    await until(lambda: not ib.isConnected())


async def test_scenario_file_plays_steps_at_simulated_times(controlled, tmp_path):
    sim, nc = controlled
    path = tmp_path / "crash.toml"
    path.write_text(
        '[[step]]\nafter_s = 0\nsymbol = "SPY"\nprice = 500.0\n\n'
        "[[step]]\nafter_s = 3600\nset_vix = 45.0\nshock_iv = 0.3\n"
    )
    await request(nc, "pause")
    reply = await request(nc, "load_scenario", {"path": str(path)})
    assert reply["state"]["prices"]["SPY"] == 500.0
    assert sim.market.vix != 45.0

    await request(nc, "advance", {"seconds": 3600})
    assert sim.market.vix == 45.0
    assert sim.market.underlyings["SPY"].iv_shock == pytest.approx(1.3)


async def test_control_channel_is_off_unless_enabled(sim_config: SimConfig, nats_url: str):
    async with Simulator(sim_config, nats_url=nats_url):
        nc = await nats.connect(nats_url)
        with pytest.raises(NoRespondersError):
            await nc.request("v6.sim.state", b"", timeout=1)
        await nc.drain()
