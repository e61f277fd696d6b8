"""What a real gateway answers, through the real ib_async client over the socket: the message
order of a fill, refused placements, modifies and cancels (IB's codes and texts), and the
order states on the way (PendingCancel before Cancelled, Inactive when refused).
"""

from __future__ import annotations

from ib_async import Bag, ComboLeg, LimitOrder, MarketOrder, Option, Stock

EXPIRY = "20260731"
SPY = Stock("SPY", "SMART", "USD")


async def test_executions_and_commissions_are_in_before_the_filled_status(ib, sim, until):
    options = [Option("SPY", EXPIRY, k, r, "SMART") for k, r in ((560.0, "P"), (555.0, "P"))]
    await ib.qualifyContractsAsync(*options)
    bag = Bag(
        symbol="SPY",
        exchange="SMART",
        currency="USD",
        comboLegs=[
            ComboLeg(conId=options[0].conId, ratio=1, action="SELL", exchange="SMART"),
            ComboLeg(conId=options[1].conId, ratio=1, action="BUY", exchange="SMART"),
        ],
    )
    seen: list[tuple[str, int, int]] = []

    def on_status(trade) -> None:
        if trade.orderStatus.status == "Filled":
            reports = [f for f in trade.fills if f.commissionReport.execId]
            seen.append(("status", len(trade.fills), len(reports)))

    def on_filled(trade) -> None:
        seen.append(("filled", len(trade.fills), 0))

    trade = ib.placeOrder(bag, MarketOrder("BUY", 1))
    trade.statusEvent += on_status
    trade.filledEvent += on_filled
    await until(trade.isDone)

    # two legs and the BAG's own execution; the legs' commission reports came with them
    assert seen[0] == ("status", 3, 2)
    assert ("filled", 3, 0) in seen


async def test_resending_a_filled_order_is_error_104_and_nothing_trades(ib, sim, until, ib_errors):
    ib_errors.expect(r"^Error 104, reqId \d+: Can't modify a filled order\.$")
    trade = ib.placeOrder(SPY, MarketOrder("BUY", 3))
    await until(trade.isDone)

    # a modify that was on its way when the fill came (ib_async itself refuses a done trade)
    ib.client.placeOrder(trade.order.orderId, SPY, LimitOrder("BUY", 3, 999.0))
    await until(lambda: 104 in ib_errors.codes())

    assert [p.position for p in sim.positions()] == [3]
    assert len(sim.orders) == 1 and sim.orders[0].status == "Filled"


async def test_reusing_the_id_of_an_ended_order_for_another_order_is_error_103(
    connect, sim, until, ib_errors
):
    ib_errors.expect(r"^Error 103, reqId \d+: Duplicate order ID\.$")
    ib_errors.expect(r"^Error 202")
    first = await connect(1)
    filled = first.placeOrder(SPY, MarketOrder("BUY", 2))
    cancelled = first.placeOrder(SPY, LimitOrder("BUY", 1, 100.0))
    await until(filled.isDone)
    first.cancelOrder(cancelled.order)
    await until(cancelled.isDone)
    first.disconnect()
    await until(lambda: 1 not in sim._sessions)

    again = await connect(1)  # a new session knows nothing of the ended orders
    reused = [
        again.placeOrder(SPY, LimitOrder("SELL", 2, 1.0, orderId=filled.order.orderId)),
        again.placeOrder(SPY, LimitOrder("BUY", 1, 100.0, orderId=cancelled.order.orderId)),
    ]
    await until(lambda: all(t.isDone() for t in reused))

    assert ib_errors.codes().count(103) == 2
    assert [t.orderStatus.status for t in reused] == ["Cancelled", "Cancelled"]
    assert [p.position for p in sim.positions()] == [2]  # not sold, not doubled
    assert len(sim.orders) == 2


async def test_cancelling_an_ended_order_is_error_10148_with_its_state(ib, sim, until, ib_errors):
    ib_errors.expect(r"^Error 202")
    ib_errors.expect(r"^Error 10148, reqId \d+: OrderId \d+ that needs to be cancelled cannot")
    ib_errors.expect(r"^Error 10147, reqId 999: OrderId 999 that needs to be cancelled is not")
    filled = ib.placeOrder(SPY, MarketOrder("BUY", 1))
    resting = ib.placeOrder(SPY, LimitOrder("BUY", 1, 100.0))
    await until(filled.isDone)
    ib.cancelOrder(resting.order)
    await until(resting.isDone)

    ib.client.cancelOrder(filled.order.orderId, "")
    ib.client.cancelOrder(resting.order.orderId, "")
    ib.client.cancelOrder(999, "")
    await until(lambda: ib_errors.codes().count(10148) == 2 and 10147 in ib_errors.codes())

    texts = [r.getMessage() for r in ib_errors.records if "10148" in r.getMessage()]
    assert texts[0].endswith("cannot be cancelled, state: Filled.")
    assert texts[1].endswith("cannot be cancelled, state: Cancelled.")
    assert filled.orderStatus.status == "Filled"


async def test_a_cancel_goes_pending_cancel_then_cancelled(ib, sim, until, ib_errors):
    ib_errors.expect(r"^Error 202, reqId \d+: Order Canceled - reason:")
    trade = ib.placeOrder(SPY, LimitOrder("BUY", 1, 100.0))
    await until(lambda: trade.orderStatus.status == "Submitted")

    ib.client.cancelOrder(trade.order.orderId, "")  # the wire only: ib_async sets no state
    await until(trade.isDone)

    statuses = [entry.status for entry in trade.log]
    assert statuses[-2:] == ["PendingCancel", "Cancelled"]


async def test_a_modify_that_changes_the_side_is_error_105_and_the_order_keeps_working(
    ib, sim, until
):
    trade = ib.placeOrder(SPY, LimitOrder("BUY", 1, 100.0))
    await until(lambda: trade.orderStatus.status == "Submitted")

    trade.order.action = "SELL"
    ib.placeOrder(SPY, trade.order)
    await until(lambda: any(e.errorCode == 105 for e in trade.log))
    await until(lambda: trade.orderStatus.status == "Submitted")  # its real state, sent again

    (order,) = sim.orders
    assert (order.action, order.lmt_price, order.status) == ("BUY", 100.0, "Submitted")
