"""The only place that builds subject strings (architecture.md, "Subjects")."""

from __future__ import annotations

from shared.events import Command, Event

DEFAULT_PREFIX = "v6"


class Subjects:
    """Subject names under one configurable prefix."""

    def __init__(self, prefix: str = DEFAULT_PREFIX) -> None:
        self.prefix = prefix

    def _s(self, *parts: str) -> str:
        return ".".join((self.prefix, *parts))

    def signal(self, symbol: str) -> str:
        return self._s("signal", symbol)

    def strategy_built(self, symbol: str) -> str:
        return self._s("strategy", "built", symbol)

    def order_placed(self, strategy_id: str) -> str:
        return self._s("order", "placed", strategy_id)

    def order_status(self, strategy_id: str) -> str:
        return self._s("order", "status", strategy_id)

    def position(self, strategy_id: str) -> str:
        return self._s("position", strategy_id)

    def book(self, strategy_id: str) -> str:
        return self._s("book", strategy_id)

    def decision(self, strategy_id: str) -> str:
        return self._s("decision", strategy_id)

    def exit(self, strategy_id: str) -> str:
        return self._s("exit", strategy_id)

    def alert(self, severity: str) -> str:
        return self._s("alert", severity)

    def alert_status(self, alert_id: str) -> str:
        return self._s("alert", "status", alert_id)

    def md(self, symbol: str) -> str:
        return self._s("md", symbol)

    def cmd(self, verb: str) -> str:
        return self._s("cmd", verb)

    def dlq(self, service: str) -> str:
        return self._s("dlq", service)

    def broker(self) -> str:
        return self._s("broker", "state")

    def reconciled(self) -> str:
        return self._s("broker", "reconciled")

    def rpc_chain(self) -> str:
        return self._s("rpc", "chain")

    def rpc_history(self) -> str:
        return self._s("rpc", "history")

    def sim(self, verb: str) -> str:
        return self._s("sim", verb)

    def all(self) -> str:
        return self._s(">")

    def wildcard(self, *parts: str) -> str:
        """e.g. wildcard("order") -> "v6.order.>"."""
        return self._s(*parts, ">")

    def for_command(self, command: Command) -> str:
        return self.cmd(type(command).verb)

    def for_event(self, event: Event) -> str:
        """The subject an event is published on, from its family and its key field."""
        from shared import events as ev

        match event:
            case ev.EntrySignalEvaluated():
                return self.signal(event.symbol)
            case ev.StrategyBuilt():
                return self.strategy_built(event.symbol)
            case ev.OrderPlaced():
                return self.order_placed(event.strategy_id)
            case ev.OrderStatusChanged() | ev.OrderFilled() | ev.OrderRejected() | ev.OrderDenied():
                return self.order_status(event.strategy_id)
            case ev.ExitExecuted():
                return self.exit(event.strategy_id)
            case ev.PositionSnapshot():
                return self.position(event.strategy_id)
            case ev.PositionOpened() | ev.PositionClosed():
                return self.book(event.strategy_id)
            case ev.DecisionMade():
                return self.decision(event.strategy_id)
            case ev.AlertRaised():
                return self.alert(event.severity.value)
            case ev.AlertStatusChanged():
                return self.alert_status(event.alert_id)
            case ev.MarketDataUpdated():
                return self.md(event.symbol)
            case ev.BrokerConnectionChanged():
                return self.broker()
            case ev.BrokerPositionsReconciled():
                return self.reconciled()
            case ev.Command():
                return self.for_command(event)
            case ev.DeadLettered():
                return self.dlq(event.service)
        raise ValueError(f"{type(event).__name__} has no publish subject (request/reply only)")
