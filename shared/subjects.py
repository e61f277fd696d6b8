"""The only place that builds subject strings (architecture.md, "Subjects"), from the families
of the route table (``shared/routes.py``)."""

from __future__ import annotations

from shared import events as ev
from shared.events import Event
from shared.routes import COMMAND_FAMILY, SIM_FAMILY, route_of

DEFAULT_PREFIX = "v6"


class Subjects:
    """Subject names under one configurable prefix."""

    def __init__(self, prefix: str = DEFAULT_PREFIX) -> None:
        self.prefix = prefix

    def _s(self, *parts: str) -> str:
        return ".".join((self.prefix, *parts))

    def _of(self, cls: type[Event], key: str | None = None) -> str:
        return self._s(route_of(cls).subject(key))

    def signal(self, symbol: str) -> str:
        return self._of(ev.EntrySignalEvaluated, symbol)

    def strategy_built(self, symbol: str) -> str:
        return self._of(ev.StrategyBuilt, symbol)

    def order_placed(self, strategy_id: str) -> str:
        return self._of(ev.OrderPlaced, strategy_id)

    def order_status(self, strategy_id: str) -> str:
        return self._of(ev.OrderStatusChanged, strategy_id)

    def position(self, strategy_id: str) -> str:
        return self._of(ev.PositionSnapshot, strategy_id)

    def book(self, strategy_id: str) -> str:
        return self._of(ev.PositionOpened, strategy_id)

    def decision(self, strategy_id: str) -> str:
        return self._of(ev.DecisionMade, strategy_id)

    def exit(self, strategy_id: str) -> str:
        return self._of(ev.ExitExecuted, strategy_id)

    def alert(self, severity: str) -> str:
        return self._of(ev.AlertRaised, severity)

    def alert_status(self, alert_id: str) -> str:
        return self._of(ev.AlertStatusChanged, alert_id)

    def md(self, symbol: str) -> str:
        return self._of(ev.MarketDataUpdated, symbol)

    def cmd(self, verb: str) -> str:
        return self._s(COMMAND_FAMILY, verb)

    def dlq(self, service: str) -> str:
        return self._of(ev.DeadLettered, service)

    def broker(self) -> str:
        return self._of(ev.BrokerConnectionChanged)

    def reconciled(self) -> str:
        return self._of(ev.BrokerPositionsReconciled)

    def rpc_chain(self) -> str:
        return self._of(ev.ChainRequested)

    def rpc_history(self) -> str:
        return self._of(ev.HistoryRequested)

    def sim(self, verb: str) -> str:
        return self._s(SIM_FAMILY, verb)

    def all(self) -> str:
        return self._s(">")

    def wildcard(self, *parts: str) -> str:
        """e.g. wildcard("order") -> "v6.order.>"."""
        return self._s(*parts, ">")

    def pattern(self, relative: str) -> str:
        """A subject or pattern of the route table (relative to the prefix), made absolute."""
        return self._s(relative)

    def for_event(self, event: Event) -> str:
        """The subject an event is published on: its route's family and the value of its key."""
        route = route_of(type(event))
        if type(event) is route.reply:
            raise ValueError(f"{type(event).__name__} has no publish subject (a reply)")
        return self._s(route.subject(route.key_of(event)))
