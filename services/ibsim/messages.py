"""Server → client encoders at server version 178: one function per message, fields as a list.

Each function returns the message's fields (message id first); ``protocol.frame`` puts them on
the wire. Layouts follow ib_async 2.1.0 ``decoder.py`` field by field; ``LAYOUTS`` records the
field count of each fixed-size message, and the golden tests hold every encoder to it, because
ib_async's decoder silently drops a message whose count it does not expect.
"""

from __future__ import annotations

import datetime as dt
import math

from services.ibsim.history import DailyBar
from services.ibsim.instruments import NEW_YORK, Instrument
from services.ibsim.orders import Execution, SimOrder
from services.ibsim.protocol import Field

Fields = list[Field]

# message -> field count for a plain (non-combo) instance, message id included
LAYOUTS: dict[str, int] = {
    "tick_price": 7,
    "tick_size": 5,
    "tick_string": 5,
    "tick_generic": 5,
    "order_status": 12,
    "error": 6,
    "open_order": 135,
    "update_account_value": 6,
    "update_portfolio": 20,
    "update_account_time": 3,
    "next_valid_id": 3,
    "contract_details": 40,
    "exec_details": 32,
    "managed_accounts": 3,
    "tick_option_computation": 12,
    "current_time": 3,
    "contract_details_end": 3,
    "open_order_end": 2,
    "account_download_end": 3,
    "exec_details_end": 3,
    "tick_snapshot_end": 3,
    "market_data_type": 4,
    "commission_report": 8,
    "position": 16,
    "position_end": 2,
    "account_summary": 7,
    "account_summary_end": 3,
    "account_update_multi_end": 3,
    "sec_def_opt_params_end": 2,
    "tick_req_params": 5,
    "completed_orders_end": 1,
}
COMBO_LEG_FIELDS = 8  # per leg in openOrder, after the leg count

# tick types (IB "tick_types")
BID, ASK, LAST, CLOSE = 1, 2, 4, 9
BID_SIZE, ASK_SIZE = 0, 3
LAST_TIMESTAMP = 45
HIST_VOLATILITY, IMPLIED_VOLATILITY = 23, 24  # answers to generic ticks 104 and 106
BID_OPTION, ASK_OPTION, LAST_OPTION, MODEL_OPTION = 10, 11, 12, 13
NOT_COMPUTED = -1.0
GREEK_NOT_COMPUTED = -2.0


def _num(value: float) -> float | None:
    return None if math.isnan(value) else value


def exec_time(when: dt.datetime) -> str:
    """Execution time as TWS prints it, with the zone name so clients need no TWS zone setting."""
    return when.astimezone(NEW_YORK).strftime("%Y%m%d %H:%M:%S") + " America/New_York"


def _contract11(c: Instrument) -> Fields:
    """conId … tradingClass, without primaryExchange (openOrder, execDetails, position)."""
    strike: float | None = c.strike if c.sec_type == "OPT" else 0.0
    return [
        c.con_id,
        c.symbol,
        c.sec_type,
        c.expiry,
        strike,
        c.right,
        c.multiplier,
        c.exchange,
        c.currency,
        c.local_symbol,
        c.trading_class,
    ]


# -- connection --------------------------------------------------------------------------


def next_valid_id(order_id: int) -> Fields:
    return [9, 1, order_id]


def managed_accounts(accounts: list[str]) -> Fields:
    return [15, 1, ",".join(accounts)]


def error(req_id: int, code: int, message: str) -> Fields:
    return [4, 2, req_id, code, message, ""]


def current_time(unix_seconds: int) -> Fields:
    return [49, 1, unix_seconds]


# -- contracts ---------------------------------------------------------------------------


def contract_details(req_id: int, c: Instrument, long_name: str, under_con_id: int) -> Fields:
    is_option = c.sec_type == "OPT"
    return [
        10,
        req_id,
        c.symbol,
        c.sec_type,
        c.expiry,
        c.strike if is_option else 0.0,
        c.right,
        c.exchange,
        c.currency,
        c.local_symbol,
        c.trading_class,  # marketName
        c.trading_class,
        c.con_id,
        0.01,  # minTick
        c.multiplier,
        "ACTIVETIM,AD,ADJUST,ALERT,ALLOC,AVGCOST,BASKET,COND,DAY,GTC,LMT,MKT,STP,OCA",
        "SMART,CBOE,AMEX,ISE,PHLX" if is_option else "SMART,ARCA,NYSE,NASDAQ",
        1,  # priceMagnifier
        under_con_id,
        long_name,
        c.primary_exchange,
        c.expiry[:6],  # contractMonth
        "",  # industry
        "",  # category
        "",  # subcategory
        "US/Eastern",
        "",  # tradingHours
        "",  # liquidHours
        "",  # evRule
        "",  # evMultiplier
        0,  # secIdList count
        1,  # aggGroup
        c.symbol if is_option else "",
        "STK" if is_option else "",
        "26",  # marketRuleIds
        c.expiry,
        "ETF" if c.sec_type == "STK" else "",
        1,  # minSize
        1,  # sizeIncrement
        1,  # suggestedSizeIncrement
    ]


def contract_details_end(req_id: int) -> Fields:
    return [52, 1, req_id]


def sec_def_opt_params(
    req_id: int,
    underlying_con_id: int,
    trading_class: str,
    expiries: list[str],
    strikes: list[float],
) -> Fields:
    return [
        75,
        req_id,
        "SMART",
        underlying_con_id,
        trading_class,
        "100",
        len(expiries),
        *expiries,
        len(strikes),
        *strikes,
    ]


def sec_def_opt_params_end(req_id: int) -> Fields:
    return [76, req_id]


# -- market data -------------------------------------------------------------------------


def tick_price(req_id: int, tick_type: int, price: float, size: float) -> Fields:
    return [1, 6, req_id, tick_type, price, size, 0]


def tick_size(req_id: int, tick_type: int, size: float) -> Fields:
    return [2, 6, req_id, tick_type, size]


def tick_string(req_id: int, tick_type: int, value: str) -> Fields:
    return [46, 6, req_id, tick_type, value]


def tick_generic(req_id: int, tick_type: int, value: float) -> Fields:
    return [45, 6, req_id, tick_type, value]


def tick_option_computation(
    req_id: int,
    tick_type: int,
    iv: float,
    delta: float,
    price: float,
    gamma: float,
    vega: float,
    theta: float,
    und_price: float,
) -> Fields:
    return [
        21,
        req_id,
        tick_type,
        0,  # tickAttrib: return-based
        NOT_COMPUTED if math.isnan(iv) else iv,
        GREEK_NOT_COMPUTED if math.isnan(delta) else delta,
        NOT_COMPUTED if math.isnan(price) else price,
        0.0,  # pvDividend
        GREEK_NOT_COMPUTED if math.isnan(gamma) else gamma,
        GREEK_NOT_COMPUTED if math.isnan(vega) else vega,
        GREEK_NOT_COMPUTED if math.isnan(theta) else theta,
        NOT_COMPUTED if math.isnan(und_price) else und_price,
    ]


def tick_req_params(req_id: int) -> Fields:
    return [81, req_id, 0.01, "9c0001", 3]


def market_data_type(req_id: int) -> Fields:
    return [58, 1, req_id, 1]


def tick_snapshot_end(req_id: int) -> Fields:
    return [57, 1, req_id]


# -- history -----------------------------------------------------------------------------


def historical_data(req_id: int, start: str, end: str, bars: list[DailyBar]) -> Fields:
    fields: Fields = [17, req_id, start, end, len(bars)]
    for b in bars:
        fields += [
            b.date.strftime("%Y%m%d"),
            b.open,
            b.high,
            b.low,
            b.close,
            b.volume,
            b.wap,
            b.bar_count,
        ]
    return fields


# -- orders ------------------------------------------------------------------------------


def order_status(order: SimOrder) -> Fields:
    return [
        3,
        order.order_id,
        order.status,
        order.filled,
        order.remaining,
        order.avg_fill_price,
        order.perm_id,
        order.parent_id,
        order.last_fill_price,
        order.client_id,
        order.why_held,
        0.0,  # mktCapPrice
    ]


def _combo_fields(order: SimOrder) -> tuple[str, Fields]:
    if not order.is_combo:
        return "", [0, 0, 0]
    descrip = ",".join(f"{leg.instrument.con_id}|{leg.ratio}" for leg in order.legs)
    legs: Fields = [len(order.legs)]
    for leg in order.legs:
        legs += [leg.instrument.con_id, leg.ratio, leg.action, "SMART", 0, 0, "", -1]
    legs += [0, 0]  # orderComboLegs count, smartComboRoutingParams count
    return descrip, legs


def open_order(order: SimOrder) -> Fields:
    descrip, combo = _combo_fields(order)
    return [
        5,
        order.order_id,
        *_contract11(order.instrument),
        order.action,
        order.total_qty,
        order.order_type,
        order.lmt_price,
        order.aux_price,
        order.tif,
        order.oca_group,
        order.account,
        "O",  # openClose
        0,  # origin: customer
        order.order_ref,
        order.client_id,
        order.perm_id,
        0,  # outsideRth
        0,  # hidden
        0.0,  # discretionaryAmt
        "",  # goodAfterTime
        "",  # deprecated sharesAllocation
        "",  # faGroup
        "",  # faMethod
        "",  # faPercentage
        # 29 fixed fields, modelCode … deltaNeutralAuxPrice
        "",  # modelCode
        "",  # goodTillDate
        "",  # rule80A
        None,  # percentOffset
        "",  # settlingFirm
        0,  # shortSaleSlot
        "",  # designatedLocation
        -1,  # exemptCode
        0,  # auctionStrategy
        None,  # startingPrice
        None,  # stockRefPrice
        None,  # delta
        None,  # stockRangeLower
        None,  # stockRangeUpper
        None,  # displaySize
        0,  # blockOrder
        0,  # sweepToFill
        0,  # allOrNone
        None,  # minQty
        order.oca_type,
        0,  # eTradeOnly
        0,  # firmQuoteOnly
        None,  # nbboPriceCap
        order.parent_id,
        0,  # triggerMethod
        None,  # volatility
        0,  # volatilityType
        "None",  # deltaNeutralOrderType: TWS sends the text "None", so 8 fields follow
        None,  # deltaNeutralAuxPrice
        "",  # deltaNeutralConId
        "",  # deltaNeutralSettlingFirm
        "",  # deltaNeutralClearingAccount
        "",  # deltaNeutralClearingIntent
        "",  # deltaNeutralOpenClose
        0,  # deltaNeutralShortSale
        0,  # deltaNeutralShortSaleSlot
        "",  # deltaNeutralDesignatedLocation
        0,  # continuousUpdate
        0,  # referencePriceType
        None,  # trailStopPrice
        None,  # trailingPercent
        None,  # basisPoints
        None,  # basisPointsType
        descrip,  # comboLegsDescrip
        *combo,  # combo legs, order combo legs, smart routing params
        None,  # scaleInitLevelSize
        None,  # scaleSubsLevelSize
        None,  # scalePriceIncrement (empty: no scale fields follow)
        "",  # hedgeType (empty: no hedgeParam)
        0,  # optOutSmartRouting
        "",  # clearingAccount
        "",  # clearingIntent
        0,  # notHeld
        0,  # deltaNeutralContract present
        "",  # algoStrategy (empty: no params)
        0,  # solicited
        0,  # whatIf
        order.status,
        *([""] * 9),  # margin before/change/after
        None,  # commission
        None,  # minCommission
        None,  # maxCommission
        "",  # commissionCurrency
        "",  # warningText
        0,  # randomizeSize
        0,  # randomizePrice
        0,  # conditions count
        "",  # adjustedOrderType
        None,  # triggerPrice
        None,  # trailStopPrice
        None,  # lmtPriceOffset
        None,  # adjustedStopPrice
        None,  # adjustedStopLimitPrice
        None,  # adjustedTrailingAmount
        0,  # adjustableTrailingUnit
        "",  # softDollarTier name
        "",  # softDollarTier value
        "",  # softDollarTier displayName
        None,  # cashQty
        0,  # dontUseAutoPriceForHedge
        0,  # isOmsContainer
        0,  # discretionaryUpToLimitPrice
        0,  # usePriceMgmtAlgo
        None,  # duration
        0,  # postToAts
        0,  # autoCancelParent
        None,  # minTradeQty
        None,  # minCompeteSize
        None,  # competeAgainstBestOffset
        None,  # midOffsetAtWhole
        None,  # midOffsetAtHalf
    ]


def exec_details(req_id: int, order: SimOrder, ex: Execution, account: str) -> Fields:
    return [
        11,
        req_id,
        order.order_id,
        *_contract11(ex.instrument),
        ex.exec_id,
        exec_time(ex.time),
        account,
        "SMART",  # exchange
        ex.side,
        ex.shares,
        ex.price,
        order.perm_id,
        order.client_id,
        0,  # liquidation
        ex.cum_qty,
        ex.avg_price,
        order.order_ref,
        "",  # evRule
        None,  # evMultiplier
        "",  # modelCode
        2,  # lastLiquidity: removed liquidity
        0,  # pendingPriceRevision (178+)
    ]


def exec_details_end(req_id: int) -> Fields:
    return [55, 1, req_id]


def commission_report(ex: Execution) -> Fields:
    return [59, 1, ex.exec_id, ex.commission, "USD", ex.realized_pnl, None, None]


# -- account -----------------------------------------------------------------------------


def position(account: str, c: Instrument, qty: float, avg_cost: float) -> Fields:
    return [61, 3, account, *_contract11(c), qty, avg_cost]


def position_end() -> Fields:
    return [62, 1]


def open_order_end() -> Fields:
    return [53, 1]


def completed_orders_end() -> Fields:
    return [102]


def update_account_value(key: str, value: str | float, currency: str, account: str) -> Fields:
    return [6, 2, key, value, currency, account]


def update_portfolio(
    c: Instrument,
    qty: float,
    market_price: float,
    market_value: float,
    avg_cost: float,
    unrealized: float,
    realized: float,
    account: str,
) -> Fields:
    return [
        7,
        8,
        c.con_id,
        c.symbol,
        c.sec_type,
        c.expiry,
        c.strike if c.sec_type == "OPT" else 0.0,
        c.right,
        c.multiplier,
        c.primary_exchange,
        c.currency,
        c.local_symbol,
        c.trading_class,
        qty,
        _num(market_price),
        _num(market_value),
        avg_cost,
        unrealized,
        realized,
        account,
    ]


def update_account_time(when: dt.datetime) -> Fields:
    return [8, 1, when.astimezone(NEW_YORK).strftime("%H:%M")]


def account_download_end(account: str) -> Fields:
    return [54, 1, account]


def account_summary(req_id: int, account: str, tag: str, value: str | float) -> Fields:
    return [63, 1, req_id, account, tag, value, "USD" if tag != "AccountType" else ""]


def account_summary_end(req_id: int) -> Fields:
    return [64, 1, req_id]


def account_update_multi_end(req_id: int) -> Fields:
    return [74, 1, req_id]
