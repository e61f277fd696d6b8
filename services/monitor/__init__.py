"""The monitor service: the book of open strategies, valued on market data and on a timer."""

from services.monitor.handlers import wire
from services.monitor.tables import TABLES
from shared.service import ServiceDef

SERVICE = ServiceDef(
    name="monitor",
    description="the book of open strategies, valued on market data and on a timer",
    tables=TABLES,
    wire=wire,
)
