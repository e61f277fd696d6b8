"""The simulator parses what the real ib_async client sends (captured from its own encoder)."""

from __future__ import annotations

from ib_async import Bag, ComboLeg, LimitOrder, Option, Stock
from ib_async.client import Client

from services.ibsim.protocol import SERVER_VERSION
from services.ibsim.requests import (
    parse_place_order,
    parse_req_historical_data,
    parse_req_mkt_data,
)


class CapturingClient(Client):
    """ib_async's real Client with the socket replaced by a list of sent messages."""

    def __init__(self) -> None:
        super().__init__(wrapper=None)  # type: ignore[arg-type]
        self.sent: list[list[str]] = []
        self.connState = Client.CONNECTED
        self._serverVersion = SERVER_VERSION

    def sendMsg(self, msg: str) -> None:  # ib_async names it so
        self.sent.append(msg.split("\0")[:-1])


CONDOR_BAG = Bag(
    symbol="SPY",
    exchange="SMART",
    currency="USD",
    comboLegs=[
        ComboLeg(conId=101, ratio=1, action="SELL", exchange="SMART"),
        ComboLeg(conId=102, ratio=1, action="BUY", exchange="SMART"),
        ComboLeg(conId=103, ratio=2, action="SELL", exchange="SMART"),
        ComboLeg(conId=104, ratio=1, action="BUY", exchange="SMART"),
    ],
)


def test_bag_place_order_keeps_legs_ratios_limit_and_ref():
    client = CapturingClient()
    order = LimitOrder("BUY", 2, -1.45, orderRef="s1:entry", ocaGroup="g", ocaType=1, tif="GTC")
    client.placeOrder(42, CONDOR_BAG, order)
    req = parse_place_order(client.sent[0])

    assert req.order_id == 42 and req.contract.sec_type == "BAG"
    assert [(leg.con_id, leg.ratio, leg.action) for leg in req.contract.combo_legs] == [
        (101, 1, "SELL"),
        (102, 1, "BUY"),
        (103, 2, "SELL"),
        (104, 1, "BUY"),
    ]
    assert (req.action, req.total_quantity, req.order_type, req.lmt_price) == (
        "BUY",
        2.0,
        "LMT",
        -1.45,
    )
    assert (req.order_ref, req.oca_group, req.oca_type, req.tif) == ("s1:entry", "g", 1, "GTC")
    assert req.transmit


def test_plain_order_parent_and_transmit_flags():
    client = CapturingClient()
    order = LimitOrder("SELL", 1, 600.0, parentId=9, transmit=False)
    client.placeOrder(10, Stock("SPY", "SMART", "USD"), order)
    req = parse_place_order(client.sent[0])
    assert (req.parent_id, req.transmit, req.contract.symbol) == (9, False, "SPY")


def test_market_data_request_for_an_option_and_a_bag():
    client = CapturingClient()
    client.reqMktData(5, Option("SPY", "20260731", 560, "P", "SMART"), "", True, False, [])
    client.reqMktData(6, CONDOR_BAG, "", False, False, [])
    option, bag = (parse_req_mkt_data(fields) for fields in client.sent)
    assert (option.req_id, option.contract.strike, option.contract.right) == (5, 560.0, "P")
    assert option.snapshot
    assert bag.req_id == 6 and len(bag.contract.combo_legs) == 4 and not bag.snapshot


def test_historical_request_fields():
    client = CapturingClient()
    spy = Stock("SPY", "SMART", "USD")
    client.reqHistoricalData(
        7, spy, "", "1 Y", "1 day", "OPTION_IMPLIED_VOLATILITY", 1, 1, False, []
    )
    req = parse_req_historical_data(client.sent[0])
    assert (req.req_id, req.duration, req.bar_size, req.what_to_show) == (
        7,
        "1 Y",
        "1 day",
        "OPTION_IMPLIED_VOLATILITY",
    )
