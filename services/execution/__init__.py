"""The execution service: the only IB client: orders, fills, market data relay, exits."""

from services.execution.handlers import wire
from services.execution.tables import TABLES
from shared.service import ServiceDef

SERVICE = ServiceDef(
    name="execution",
    description="the only IB client: orders, fills, market data relay, exits",
    tables=TABLES,
    wire=wire,
)
