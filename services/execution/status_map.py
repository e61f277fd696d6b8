"""IB order statuses and error codes translated to the project's own terms (table-driven).

IB's status strings and numeric error codes stop here: the rest of the service speaks
``OrderStatus`` and ``ErrorKind``.
"""

from __future__ import annotations

import enum

from shared.enums import OrderStatus

IB_STATUS: dict[str, OrderStatus] = {
    "ApiPending": OrderStatus.PENDING_SUBMIT,
    "PendingSubmit": OrderStatus.PENDING_SUBMIT,
    # PreSubmitted: accepted by IB and held until the exchange conditions are met
    "PreSubmitted": OrderStatus.SUBMITTED,
    "Submitted": OrderStatus.SUBMITTED,
    # a cancel request is not a cancel: the order can still fill until IB confirms
    "PendingCancel": OrderStatus.SUBMITTED,
    "ApiCancelled": OrderStatus.CANCELLED,
    "Cancelled": OrderStatus.CANCELLED,
    "Filled": OrderStatus.FILLED,
    # Inactive: IB refused the order (margin, permissions, a bad price)
    "Inactive": OrderStatus.REJECTED,
}


def order_status(ib_status: str, filled: float, remaining: float) -> OrderStatus:
    """The project status of an IB status line; a working order with fills is partial."""
    status = IB_STATUS.get(ib_status, OrderStatus.SUBMITTED)
    if status is OrderStatus.SUBMITTED and filled > 0 and remaining > 0:
        return OrderStatus.PARTIALLY_FILLED
    return status


class ErrorKind(enum.Enum):
    INFO = "info"  # farm connection notices and other chatter
    ORDER_REJECTED = "order_rejected"  # the broker refused an order
    ORDER_CANCELLED = "order_cancelled"  # a cancel confirmed
    # accepted but held until the session opens (399 "will not be placed at the exchange until")
    ORDER_HELD = "order_held"
    CONNECTION_LOST = "connection_lost"
    CONNECTION_RESTORED = "connection_restored"
    NO_CONTRACT = "no_contract"
    PACING = "pacing"
    OTHER = "other"


ERROR_KINDS: dict[int, ErrorKind] = {
    **dict.fromkeys((2104, 2106, 2107, 2108, 2119, 2158, 2100, 2150, 10167), ErrorKind.INFO),
    **dict.fromkeys(
        (103, 104, 105, 106, 107, 109, 110, 111, 135, 161, 201, 203, 321, 382, 383, 387),
        ErrorKind.ORDER_REJECTED,
    ),
    202: ErrorKind.ORDER_CANCELLED,
    399: ErrorKind.ORDER_HELD,
    **dict.fromkeys((1100, 1300, 2103, 2105, 2110), ErrorKind.CONNECTION_LOST),
    **dict.fromkeys((1101, 1102), ErrorKind.CONNECTION_RESTORED),
    200: ErrorKind.NO_CONTRACT,
    **dict.fromkeys((100, 162, 420), ErrorKind.PACING),
}


def error_kind(code: int) -> ErrorKind:
    return ERROR_KINDS.get(code, ErrorKind.OTHER)
