"""Rows for Delta tables: from msgspec Structs, checked against the table's schema.

Checking here matters because deltalake silently casts what it can (the string "1.5" into a
float column); a row is refused unless each value already has the column's type.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterable, Mapping
from typing import Any

import msgspec
import pyarrow as pa

Row = Mapping[str, Any]


class RowError(ValueError):
    """A row that does not fit its table's schema; the message names table and column."""


def _plain(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, msgspec.Struct | list | tuple | dict) and not isinstance(value, str):
        # nested values (legs, checks, metadata) are kept as JSON text
        return msgspec.json.encode(value).decode()
    return value


def struct_to_row(struct: msgspec.Struct, **extra: Any) -> dict[str, Any]:
    """A flat row from a Struct: enums as their values, nested values as JSON text."""
    row = {k: _plain(v) for k, v in msgspec.structs.asdict(struct).items()}
    row.update(extra)
    return row


def _type_ok(value: Any, kind: pa.DataType) -> bool:
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return isinstance(value, str)
    if pa.types.is_boolean(kind):
        return isinstance(value, bool)
    if pa.types.is_integer(kind):
        return isinstance(value, int) and not isinstance(value, bool)
    if pa.types.is_floating(kind):
        return isinstance(value, int | float) and not isinstance(value, bool)
    if pa.types.is_timestamp(kind):
        return isinstance(value, dt.datetime) and value.tzinfo is not None
    if pa.types.is_date(kind):
        return isinstance(value, dt.date) and not isinstance(value, dt.datetime)
    if pa.types.is_binary(kind) or pa.types.is_large_binary(kind):
        return isinstance(value, bytes)
    return True  # nested types: pyarrow checks them when building the batch


def check_rows(table: str, schema: pa.Schema, rows: list[Row]) -> None:
    """Raise RowError unless every row has exactly the schema's columns and types."""
    names = set(schema.names)
    for i, row in enumerate(rows):
        unknown = set(row) - names
        if unknown:
            raise RowError(f"{table}: row {i} has unknown columns {sorted(unknown)}")
        for column in schema:
            value = row.get(column.name)
            if value is None:
                if not column.nullable:
                    raise RowError(f"{table}.{column.name}: row {i} misses a required value")
            elif not _type_ok(value, column.type):
                raise RowError(
                    f"{table}.{column.name}: row {i} has {type(value).__name__} {value!r}, "
                    f"expected {column.type}"
                )


def to_arrow(table: str, schema: pa.Schema, rows: Iterable[Row]) -> pa.Table:
    """Validate ``rows`` against ``schema`` and build an Arrow table in the schema's order."""
    rows = list(rows)
    check_rows(table, schema, rows)
    return pa.Table.from_pylist(rows, schema=schema)
