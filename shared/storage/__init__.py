"""Delta tables owned by a service: schemas, batched writes, upserts, reads, compaction."""

from shared.storage.rows import Row, RowError, struct_to_row, to_arrow
from shared.storage.table import Compaction, Filter, Table, TableSpec
from shared.storage.writer import BatchWriter

__all__ = [
    "BatchWriter",
    "Compaction",
    "Filter",
    "Row",
    "RowError",
    "Table",
    "TableSpec",
    "struct_to_row",
    "to_arrow",
]
