"""The decision service: the prioritized exit rules and alerts."""

from services.decision.handlers import wire
from services.decision.tables import TABLES
from shared.service import ServiceDef

SERVICE = ServiceDef(
    name="decision", description="the prioritized exit rules and alerts", tables=TABLES, wire=wire
)
