"""Placing an order for the workflows: saved on its holdings first, then sent; quotes for a
price; the breaker told how each order ended; saved orders resumed after a (re)start.

Every order is saved on its holding *before* it is placed, so a crash between placing and
recording is recovered by finding the order at the broker by its ref (``resume_working``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Iterable
from typing import Protocol

from services.execution.book import Holding, HoldingBook
from services.execution.ib_client import IBClient
from services.execution.order_manager import OrderManager, WorkingOrder
from services.execution.orders import OrderSpec, net_prices
from shared.config import OrdersConfig
from shared.domain.breaker import CircuitBreaker
from shared.enums import OrderStatus
from shared.errors import Transient
from shared.events import ChainProvided, ChainRequested, Event, Leg, Quote

QUOTE_WAIT_S = 2.0


class MarketData(Protocol):
    """What the workflows need from the market-data relay."""

    quotes: dict[int, Quote]

    async def qualify(self, symbol: str, legs: list[Leg]) -> list[Leg]: ...

    async def track(self, symbol: str, legs: list[Leg]) -> None: ...

    async def wait_quotes(self, legs: list[Leg], timeout_s: float) -> None: ...

    async def on_chain_requested(self, req: ChainRequested) -> ChainProvided: ...


class SaveHolding(Protocol):
    """Persist a holding; ``durable`` waits until it is committed (before an order is placed)."""

    def __call__(self, holding: Holding, *, durable: bool = False) -> Awaitable[None]: ...


Publish = Callable[[Event], Awaitable[object]]


class OrderPlacer:
    """The parts every workflow shares: one book, one breaker, one order manager."""

    def __init__(
        self,
        client: IBClient,
        orders: OrderManager,
        book: HoldingBook,
        breaker: CircuitBreaker,
        md: MarketData,
        config: OrdersConfig,
        publish: Publish,
        save: SaveHolding,
    ) -> None:
        self.client = client
        self.orders = orders
        self.book = book
        self.breaker = breaker
        self.md = md
        self.config = config
        self.publish = publish
        self.save = save

    def now(self) -> dt.datetime:
        return self.client.now()

    async def place(
        self, spec: OrderSpec, holdings: Iterable[Holding], correlation_id: str = ""
    ) -> None:
        """Save ``spec`` as working on ``holdings`` (durably), then place it."""
        for h in holdings:
            h.working = spec
            h.updated_at = self.now()
            await self.save(h, durable=True)
        await self.orders.place(spec, dry_run=self.config.dry_run, correlation_id=correlation_id)

    async def place_standing(self, specs: Iterable[OrderSpec], *, resume: bool = False) -> None:
        """Orders already saved on their holding (brackets, or a resume after a restart)."""
        for spec in specs:
            await self.orders.place(spec, dry_run=self.config.dry_run, resume=resume)

    async def resume_working(self) -> None:
        """After a (re)start: every order saved as working is re-attached by ref, or settled
        from the broker's executions; none is sent again (``OrderManager.place``)."""
        for h in list(self.book.holdings.values()):
            specs = (*((h.working,) if h.working else ()), *h.brackets)
            for spec in specs:
                if spec.order_ref in self.orders.working:
                    continue
                await self.md.track(h.symbol, list(spec.legs))
                await self.place_standing([spec], resume=True)

    async def quoted(self, symbol: str, legs: list[Leg]) -> tuple[float, float]:
        """(mid, natural) of trading ``legs`` now; retried later without quotes."""
        await self.md.track(symbol, legs)
        await self.md.wait_quotes(legs, timeout_s=QUOTE_WAIT_S)
        prices = net_prices(legs, self.md.quotes)
        if prices is None:
            raise Transient(f"no quotes for the legs of {symbol}; exit retried later")
        return prices

    def order_ended(self, wo: WorkingOrder) -> None:
        """The breaker counts rejections as failures and fills as successes."""
        now = self.now()
        if wo.status is OrderStatus.REJECTED:
            self.breaker.record_failure(now)
        elif wo.filled:
            self.breaker.record_success(now)
