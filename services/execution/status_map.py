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


# statuses only the broker sets (ib_async sets PendingSubmit, PendingCancel and Cancelled itself)
ACCEPTED = frozenset({"PreSubmitted", "Submitted", "Filled"})
# error codes after which ib_async marks an order cancelled without the broker saying so; 202
# is the broker's own cancel
BROKER_CANCEL_CODES = frozenset({0, 202})


def was_accepted(history: list[tuple[str, int]]) -> bool:
    """Whether the broker ever took the order: its log (status, error code) has its status."""
    return any(status in ACCEPTED for status, _ in history)


def cancelled_by_client(history: list[tuple[str, int]]) -> bool:
    """Whether the order's last status is ib_async's own "Cancelled" after an error, which a
    refused modify or cancel of a working order also gets: the order still works at IB, and
    IB's own status follows."""
    return (
        bool(history)
        and history[-1][0] == "Cancelled"
        and history[-1][1] not in BROKER_CANCEL_CODES
    )


def order_status(ib_status: str, filled: float, remaining: float) -> OrderStatus:
    """The project status of an IB status line; a working order with fills is partial."""
    status = IB_STATUS.get(ib_status, OrderStatus.SUBMITTED)
    if status is OrderStatus.SUBMITTED and filled > 0 and remaining > 0:
        return OrderStatus.PARTIALLY_FILLED
    return status


class ErrorKind(enum.Enum):
    INFO = "info"  # farm connection notices and other chatter
    ORDER_REJECTED = "order_rejected"  # the broker refused an order (or a change to it)
    # the broker refused a modify or a cancel: the order stays as it is at the broker
    CHANGE_REFUSED = "change_refused"
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
    # refusals of an order; of a change to it when the broker had already accepted the order
    **dict.fromkeys(
        (103, 106, 107, 109, 110, 111, 201, 203, 321, 382, 383, 387), ErrorKind.ORDER_REJECTED
    ),
    # 104 "Can't modify a filled order.", 105 "Order being modified does not match original
    # order.", 135 "Can't find order with ID", 161 "Cancel attempted when order is not in a
    # cancellable state.", 10147 "... that needs to be cancelled is not found.", 10148 "...
    # that needs to be cancelled cannot be cancelled, state: <status>."
    **dict.fromkeys((104, 105, 135, 161, 10147, 10148), ErrorKind.CHANGE_REFUSED),
    202: ErrorKind.ORDER_CANCELLED,
    399: ErrorKind.ORDER_HELD,
    **dict.fromkeys((1100, 1300, 2103, 2105, 2110), ErrorKind.CONNECTION_LOST),
    **dict.fromkeys((1101, 1102), ErrorKind.CONNECTION_RESTORED),
    200: ErrorKind.NO_CONTRACT,
    **dict.fromkeys((100, 162, 420), ErrorKind.PACING),
}


def error_kind(code: int) -> ErrorKind:
    return ERROR_KINDS.get(code, ErrorKind.OTHER)
