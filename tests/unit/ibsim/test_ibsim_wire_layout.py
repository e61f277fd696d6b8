"""Golden tests of the wire: field counts per message at server version 178, exact bytes for a
few messages, and every encoder's output read back through ib_async's own decoder.

ib_async drops a message whose layout it does not expect and only logs it, so these tests are
what catches a broken layout where the client would stay silent.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from ib_async.decoder import Decoder
from ib_async.util import ZoneInfo

from services.ibsim import messages as m
from services.ibsim.history import DailyBar
from services.ibsim.instruments import Instrument, stock
from services.ibsim.orders import Execution, Leg, SimOrder
from services.ibsim.protocol import SERVER_VERSION, format_field, frame, split_fields
from services.ibsim.requests import ContractSpec

OPTION = Instrument(
    con_id=700000001,
    symbol="SPY",
    sec_type="OPT",
    expiry="20260731",
    strike=560.0,
    right="P",
    multiplier="100",
    local_symbol="SPY   260731P00560000",
    trading_class="SPY",
)
BAG = Instrument(con_id=0, symbol="SPY", sec_type="BAG")
WHEN = dt.datetime(2026, 6, 15, 14, 30, tzinfo=dt.UTC)


def order(**changes: Any) -> SimOrder:
    values: dict[str, Any] = dict(
        client_id=1,
        order_id=12,
        perm_id=1000001,
        instrument=OPTION,
        legs=[],
        action="BUY",
        total_qty=3.0,
        order_type="LMT",
        lmt_price=1.25,
        aux_price=None,
        tif="DAY",
        oca_group="",
        oca_type=0,
        account="DU1234567",
        order_ref="strat-1:entry",
        transmit=True,
        parent_id=0,
        spec=ContractSpec(),
        status="Submitted",
    )
    values.update(changes)
    return SimOrder(**values)


def execution(instrument: Instrument = OPTION) -> Execution:
    return Execution(
        exec_id="0000e0d5.00000001.01.01",
        time=WHEN,
        instrument=instrument,
        side="BOT",
        shares=3.0,
        price=1.25,
        cum_qty=3.0,
        avg_price=1.25,
        commission=1.95,
    )


class Recorder:
    """Stands in for ib_async's Wrapper: records what the real decoder hands it."""

    defaultTimezone = dt.UTC

    class ib:  # the decoder reads wrapper.ib.TimezoneTWS
        TimezoneTWS = None

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...]]] = []

    def __getattr__(self, name: str) -> Any:
        def record(*args: Any) -> None:
            self.calls.append((name, args))

        return record


def decode(fields: list[Any]) -> tuple[str, tuple[Any, ...]]:
    """Frame, split and decode like ib_async; fail on any decoder error."""
    recorder = Recorder()
    decoder = Decoder(recorder, SERVER_VERSION)  # type: ignore[arg-type]
    wire = split_fields(frame(fields)[4:])
    handler = decoder.handlers[int(wire[0])]
    handler(wire)  # called directly: interpret() would swallow an exception
    assert len(recorder.calls) >= 1
    return recorder.calls[0]


def bar() -> DailyBar:
    return DailyBar(dt.date(2026, 6, 15), 1.0, 2.0, 0.5, 1.5, 100, 1.3, 1)


FIXED = {
    "tick_price": m.tick_price(1, m.BID, 1.25, 10),
    "tick_size": m.tick_size(1, m.BID_SIZE, 10),
    "tick_string": m.tick_string(1, m.LAST_TIMESTAMP, "1781533800"),
    "tick_generic": m.tick_generic(1, m.IMPLIED_VOLATILITY, 0.1534),
    "order_status": m.order_status(order()),
    "error": m.error(-1, 2104, "Market data farm connection is OK:usfarm"),
    "open_order": m.open_order(order()),
    "update_account_value": m.update_account_value("NetLiquidation", 1.0, "USD", "DU1"),
    "update_portfolio": m.update_portfolio(OPTION, 1, 1.2, 120, 125, -5, 0, "DU1"),
    "update_account_time": m.update_account_time(WHEN),
    "next_valid_id": m.next_valid_id(1),
    "contract_details": m.contract_details(1, OPTION, "SPDR", 756733),
    "exec_details": m.exec_details(-1, order(), execution(), "DU1"),
    "managed_accounts": m.managed_accounts(["DU1"]),
    "tick_option_computation": m.tick_option_computation(
        1, m.MODEL_OPTION, 0.2, -0.3, 1.2, 0.01, 0.5, -0.1, 580.0
    ),
    "current_time": m.current_time(1781533800),
    "contract_details_end": m.contract_details_end(1),
    "open_order_end": m.open_order_end(),
    "account_download_end": m.account_download_end("DU1"),
    "exec_details_end": m.exec_details_end(1),
    "tick_snapshot_end": m.tick_snapshot_end(1),
    "market_data_type": m.market_data_type(1),
    "commission_report": m.commission_report(execution()),
    "position": m.position("DU1", OPTION, -2, 125.65),
    "position_end": m.position_end(),
    "account_summary": m.account_summary(1, "DU1", "NetLiquidation", 1.0),
    "account_summary_end": m.account_summary_end(1),
    "account_update_multi_end": m.account_update_multi_end(1),
    "sec_def_opt_params_end": m.sec_def_opt_params_end(1),
    "tick_req_params": m.tick_req_params(1),
    "completed_orders_end": m.completed_orders_end(),
}


def test_every_fixed_layout_is_covered():
    assert set(FIXED) == set(m.LAYOUTS)


@pytest.mark.parametrize("name", sorted(m.LAYOUTS))
def test_field_count_matches_the_layout_at_server_version_178(name: str):
    assert len(FIXED[name]) == m.LAYOUTS[name]


@pytest.mark.parametrize("name", sorted(m.LAYOUTS))
def test_ib_async_decodes_every_message_without_error(name: str):
    decode(FIXED[name])


def test_plain_open_order_is_135_fields_and_decodes_field_by_field():
    fields = m.open_order(order(oca_group="g1", parent_id=7))
    assert len(fields) == 135
    name, (order_id, contract, o, state) = decode(fields)
    assert name == "openOrder" and order_id == 12
    assert (contract.conId, contract.secType, contract.strike) == (700000001, "OPT", 560.0)
    assert (o.action, o.totalQuantity, o.lmtPrice, o.orderRef) == (
        "BUY",
        3.0,
        1.25,
        "strat-1:entry",
    )
    assert (o.clientId, o.permId, o.parentId, o.ocaGroup) == (1, 1000001, 7, "g1")
    assert state.status == "Submitted"


def test_combo_open_order_adds_8_fields_per_leg_and_keeps_leg_actions():
    legs = [
        Leg(OPTION, 1, "SELL"),
        Leg(Instrument(con_id=700000003, symbol="SPY", sec_type="OPT"), 1, "BUY"),
    ]
    fields = m.open_order(order(instrument=BAG, legs=legs, lmt_price=-1.4))
    assert len(fields) == 135 + 8 * len(legs)
    _, (_, contract, o, state) = decode(fields)
    assert contract.secType == "BAG"
    assert [(leg.conId, leg.action, leg.ratio) for leg in contract.comboLegs] == [
        (700000001, "SELL", 1),
        (700000003, "BUY", 1),
    ]
    assert o.lmtPrice == -1.4 and state.status == "Submitted"


def test_exec_details_decodes_time_side_and_order_ref():
    name, (req_id, contract, ex) = decode(m.exec_details(-1, order(), execution(), "DU1"))
    assert name == "execDetails" and req_id == -1
    assert contract.localSymbol == "SPY   260731P00560000"
    assert (ex.side, ex.shares, ex.price, ex.orderRef) == ("BOT", 3.0, 1.25, "strat-1:entry")
    assert ex.time == WHEN.astimezone(ZoneInfo("UTC"))


def test_historical_data_has_8_fields_per_bar():
    fields = m.historical_data(1, "20250101 00:00:00", "20250102 23:59:59", [bar(), bar()])
    assert len(fields) == 5 + 8 * 2
    assert decode(fields)[0] == "historicalData"


def test_sec_def_opt_params_counts_expiries_and_strikes():
    fields = m.sec_def_opt_params(1, 756733, "SPY", ["20260619", "20260717"], [570.0, 575.0])
    assert len(fields) == 7 + 2 + 1 + 2
    name, args = decode(fields)
    assert name == "securityDefinitionOptionParameter"
    assert args[-2:] == (["20260619", "20260717"], [570.0, 575.0])


def test_contract_details_of_a_stock_decodes_to_the_qualified_contract():
    _, (req_id, details) = decode(m.contract_details(3, stock("SPY"), "SPDR", 0))
    assert req_id == 3
    assert details.contract.conId == 756733 and details.contract.primaryExchange == "ARCA"


def test_golden_bytes_of_tick_price_and_current_time():
    assert (
        frame(m.tick_price(5, m.ASK, 1.25, 10))
        == b"\x00\x00\x00\x121\x006\x005\x002\x001.25\x0010\x000\x00"
    )
    assert frame(m.current_time(1781533800)) == b"\x00\x00\x00\x1049\x001\x001781533800\x00"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, ""),
        (True, "1"),
        (False, "0"),
        (3, "3"),
        (2.0, "2"),
        (-1.4, "-1.4"),
        (0.1 + 0.2, "0.3"),
    ],
)
def test_fields_render_as_tws_text(value: Any, text: str):
    assert format_field(value) == text
