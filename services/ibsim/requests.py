"""Client → server parsers: the requests the simulator understands, as typed records.

Layouts follow ib_async 2.1.0 ``client.py`` (see tws-protocol.md, "Client → server layouts").
Each parser takes the message's fields (including the message id) and returns a record;
requests the simulator does not serve are ignored by the session, as a gateway ignores fields
it does not need.
"""

from __future__ import annotations

from dataclasses import dataclass, replace


class FieldReader:
    """Reads fields in order, converting IB's empty-means-unset convention."""

    def __init__(self, fields: list[str], start: int = 1) -> None:
        self._fields = fields
        self._pos = start

    def str(self) -> str:
        value = self._fields[self._pos] if self._pos < len(self._fields) else ""
        self._pos += 1
        return value

    def int(self, default: int = 0) -> int:
        raw = self.str()
        return int(raw) if raw else default

    def float(self, default: float | None = None) -> float | None:
        raw = self.str()
        if not raw:
            return default
        return float("inf") if raw == "Infinite" else float(raw)

    def bool(self) -> bool:
        return self.str() not in ("", "0")

    def skip(self, n: int = 1) -> None:
        self._pos += n


@dataclass(frozen=True, slots=True)
class ComboLegSpec:
    con_id: int
    ratio: int
    action: str  # BUY or SELL
    exchange: str = "SMART"


@dataclass(frozen=True, slots=True)
class ContractSpec:
    """A contract as the client described it (any field may be empty)."""

    con_id: int = 0
    symbol: str = ""
    sec_type: str = ""
    expiry: str = ""
    strike: float = 0.0
    right: str = ""
    multiplier: str = ""
    exchange: str = ""
    primary_exchange: str = ""
    currency: str = ""
    local_symbol: str = ""
    trading_class: str = ""
    combo_legs: tuple[ComboLegSpec, ...] = ()


def read_contract(r: FieldReader) -> ContractSpec:
    return ContractSpec(
        con_id=r.int(),
        symbol=r.str().upper(),
        sec_type=r.str().upper(),
        expiry=r.str(),
        strike=r.float(0.0) or 0.0,
        right=_right(r.str()),
        multiplier=r.str(),
        exchange=r.str(),
        primary_exchange=r.str(),
        currency=r.str(),
        local_symbol=r.str(),
        trading_class=r.str(),
    )


def _right(raw: str) -> str:
    raw = raw.upper()
    return {"CALL": "C", "PUT": "P"}.get(raw, raw)


def _with_legs(contract: ContractSpec, legs: list[ComboLegSpec]) -> ContractSpec:
    return replace(contract, combo_legs=tuple(legs))


@dataclass(frozen=True, slots=True)
class MktDataRequest:
    req_id: int
    contract: ContractSpec
    generic_ticks: str
    snapshot: bool


def parse_req_mkt_data(fields: list[str]) -> MktDataRequest:
    r = FieldReader(fields, start=2)
    req_id = r.int()
    contract = read_contract(r)
    if contract.sec_type == "BAG":
        legs = [
            ComboLegSpec(con_id=r.int(), ratio=r.int(1), action=r.str().upper(), exchange=r.str())
            for _ in range(r.int())
        ]
        contract = _with_legs(contract, legs)
    if r.bool():  # delta-neutral contract: conId, delta, price
        r.skip(3)
    return MktDataRequest(req_id, contract, generic_ticks=r.str(), snapshot=r.bool())


@dataclass(frozen=True, slots=True)
class OrderRequest:
    order_id: int
    contract: ContractSpec
    action: str
    total_quantity: float
    order_type: str
    lmt_price: float | None
    aux_price: float | None
    tif: str
    oca_group: str
    account: str
    order_ref: str
    transmit: bool
    parent_id: int
    oca_type: int = 0


def parse_place_order(fields: list[str]) -> OrderRequest:
    r = FieldReader(fields, start=1)
    order_id = r.int()
    contract = read_contract(r)
    r.skip(2)  # secIdType, secId
    action = r.str().upper()
    total_quantity = r.float(0.0) or 0.0
    order_type = r.str().upper()
    lmt_price = r.float()
    aux_price = r.float()
    tif = r.str().upper() or "DAY"
    oca_group = r.str()
    account = r.str()
    r.skip(2)  # openClose, origin
    order_ref = r.str()
    transmit = r.bool()
    parent_id = r.int()
    r.skip(6)  # blockOrder, sweepToFill, displaySize, triggerMethod, outsideRth, hidden
    if contract.sec_type == "BAG":
        legs = []
        for _ in range(r.int()):
            legs.append(
                ComboLegSpec(
                    con_id=r.int(), ratio=r.int(1), action=r.str().upper(), exchange=r.str()
                )
            )
            r.skip(4)  # openClose, shortSaleSlot, designatedLocation, exemptCode
        contract = _with_legs(contract, legs)
        r.skip(r.int())  # per-leg prices of the order
        r.skip(2 * r.int())  # smart combo routing tag/value pairs
    # deprecated sharesAllocation, discretionaryAmt, goodAfterTime, goodTillDate, faGroup,
    # faMethod, faPercentage, modelCode, shortSaleSlot, designatedLocation, exemptCode
    r.skip(11)
    oca_type = r.int()
    return OrderRequest(
        order_id=order_id,
        contract=contract,
        action=action,
        total_quantity=total_quantity,
        order_type=order_type,
        lmt_price=lmt_price,
        aux_price=aux_price,
        tif=tif,
        oca_group=oca_group,
        account=account,
        order_ref=order_ref,
        transmit=transmit,
        parent_id=parent_id,
        oca_type=oca_type,
    )


@dataclass(frozen=True, slots=True)
class ContractDetailsRequest:
    req_id: int
    contract: ContractSpec


def parse_req_contract_details(fields: list[str]) -> ContractDetailsRequest:
    r = FieldReader(fields, start=2)
    return ContractDetailsRequest(req_id=r.int(), contract=read_contract(r))


@dataclass(frozen=True, slots=True)
class HistoricalDataRequest:
    req_id: int
    contract: ContractSpec
    end: str
    bar_size: str
    duration: str
    use_rth: bool
    what_to_show: str
    format_date: int


def parse_req_historical_data(fields: list[str]) -> HistoricalDataRequest:
    r = FieldReader(fields, start=1)
    req_id = r.int()
    contract = read_contract(r)
    r.skip(1)  # includeExpired
    return HistoricalDataRequest(
        req_id=req_id,
        contract=contract,
        end=r.str(),
        bar_size=r.str(),
        duration=r.str(),
        use_rth=r.bool(),
        what_to_show=r.str().upper(),
        format_date=r.int(1),
    )


@dataclass(frozen=True, slots=True)
class SecDefOptParamsRequest:
    req_id: int
    symbol: str
    sec_type: str
    con_id: int


def parse_req_sec_def_opt_params(fields: list[str]) -> SecDefOptParamsRequest:
    r = FieldReader(fields, start=1)
    req_id = r.int()
    symbol = r.str().upper()
    r.skip(1)  # futFopExchange
    return SecDefOptParamsRequest(req_id, symbol, sec_type=r.str().upper(), con_id=r.int())


def parse_req_id(fields: list[str], start: int = 2) -> int:
    """The request id of the many requests shaped ``<msgId>,<version>,<reqId>,...``."""
    return FieldReader(fields, start=start).int()


@dataclass(frozen=True, slots=True)
class AccountSummaryRequest:
    req_id: int
    group: str
    tags: tuple[str, ...]


def parse_req_account_summary(fields: list[str]) -> AccountSummaryRequest:
    r = FieldReader(fields, start=2)
    req_id = r.int()
    group = r.str()
    tags = tuple(t for t in r.str().split(",") if t)
    return AccountSummaryRequest(req_id, group, tags)


@dataclass(frozen=True, slots=True)
class StartApiRequest:
    client_id: int


def parse_start_api(fields: list[str]) -> StartApiRequest:
    return StartApiRequest(client_id=FieldReader(fields, start=2).int())
