"""The entry service: entry signals and strategy building."""

from services.entry.handlers import wire
from services.entry.tables import TABLES
from shared.service import ServiceDef

SERVICE = ServiceDef(
    name="entry", description="entry signals and strategy building", tables=TABLES, wire=wire
)
