import datetime as dt

from services.execution.conflate import Conflator
from services.execution.reconcile import FindingKind, book_positions, reconcile
from services.execution.status_map import (
    ErrorKind,
    cancelled_by_client,
    error_kind,
    order_status,
    was_accepted,
)
from shared.enums import OrderStatus, Right
from shared.events import Leg

EXP = dt.date(2027, 1, 15)


def test_unknown_missing_and_mismatched_positions_are_found():
    legs = (
        Leg(right=Right.PUT, strike=540, expiry=EXP, quantity=1, con_id=1),
        Leg(right=Right.PUT, strike=545, expiry=EXP, quantity=-1, con_id=2),
    )
    book = book_positions([(legs, 2)])
    findings = reconcile({1: 2.0, 2: -1.0, 9: 5.0}, {**book, 3: 1.0})
    assert [(f.kind, f.con_id) for f in findings] == [
        (FindingKind.MISMATCH, 2),
        (FindingKind.MISSING, 3),
        (FindingKind.UNKNOWN, 9),
    ]


def test_matching_book_has_no_findings():
    assert reconcile({1: -3.0}, {1: -3.0}) == []


def test_ib_statuses_map_to_project_statuses():
    assert order_status("PreSubmitted", 0, 2) is OrderStatus.SUBMITTED
    assert order_status("Submitted", 1, 1) is OrderStatus.PARTIALLY_FILLED
    assert order_status("Filled", 2, 0) is OrderStatus.FILLED
    assert order_status("Inactive", 0, 2) is OrderStatus.REJECTED
    assert error_kind(201) is ErrorKind.ORDER_REJECTED
    assert error_kind(2104) is ErrorKind.INFO


def test_an_order_held_until_the_open_is_neither_refused_nor_chatter():
    # 399 "Order Message: ... will not be placed at the exchange until <open>": still working
    assert error_kind(399) is ErrorKind.ORDER_HELD
    assert order_status("ValidationError", 0, 2) is OrderStatus.SUBMITTED  # ib_async's mark


def test_refused_modifies_and_cancels_are_not_rejections_of_the_order():
    # 104 modify of a filled order, 105 changed contract, 161/10147/10148 refused cancels
    for code in (104, 105, 135, 161, 10147, 10148):
        assert error_kind(code) is ErrorKind.CHANGE_REFUSED
    assert error_kind(103) is ErrorKind.ORDER_REJECTED  # a duplicate id refuses the placement


def test_ib_async_cancelling_an_accepted_order_after_an_error_is_not_the_brokers_word():
    refused_modify = [("PendingSubmit", 0), ("Submitted", 0), ("Cancelled", 201)]
    assert was_accepted(refused_modify) and cancelled_by_client(refused_modify)
    refused_placement = [("PendingSubmit", 0), ("Cancelled", 201)]
    assert not was_accepted(refused_placement)
    assert not cancelled_by_client([("Submitted", 0), ("Cancelled", 0)])  # the broker's own
    assert not cancelled_by_client([("Submitted", 0), ("Cancelled", 202)])


def test_conflation_keeps_the_latest_value_per_instrument_at_the_rate():
    c: Conflator[int, float] = Conflator(max_rate_hz=2)
    for i in range(100):
        c.put("SPY", 1, float(i))
    c.put("SPY", 2, -1.0)
    assert c.due(10.0) == {"SPY": [99.0, -1.0]}
    c.put("SPY", 1, 100.0)
    assert c.due(10.1) == {}
    assert c.due(10.5) == {"SPY": [100.0]}
