"""Delta table helpers on real tables in a temp folder."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import pyarrow as pa
import pytest
from fixtures.events import make

from shared.events import OrderPlaced
from shared.storage import BatchWriter, RowError, Table, TableSpec, struct_to_row
from shared.storage.columns import TIMESTAMP, required

T0 = dt.datetime(2026, 3, 2, 15, 30, tzinfo=dt.UTC)

ORDERS = TableSpec(
    name="orders",
    schema=pa.schema(
        [
            required("order_ref", pa.string()),
            required("status", pa.string()),
            required("quantity", pa.int64()),
            pa.field("limit_price", pa.float64()),
            required("updated_at", TIMESTAMP),
        ]
    ),
    key=("order_ref",),
)

TICKS = TableSpec(
    name="ticks",
    schema=pa.schema([required("seq", pa.int64()), required("time", TIMESTAMP)]),
)


def order(ref: str, status: str = "submitted", qty: int = 1) -> dict:
    return {
        "order_ref": ref,
        "status": status,
        "quantity": qty,
        "limit_price": 1.25,
        "updated_at": T0,
    }


@pytest.fixture
def orders(data_root: Path) -> Table:
    return Table.open(data_root, ORDERS)


async def test_open_creates_the_table_once_with_its_schema(data_root: Path) -> None:
    first = Table.open(data_root, ORDERS)
    await first.append([order("a")])
    again = Table.open(data_root, ORDERS)
    assert again.version() == first.version()
    assert (await again.read()).schema == ORDERS.schema


async def test_batched_appends_commit_many_rows_in_few_commits(data_root: Path) -> None:
    table = Table.open(data_root, TICKS)
    writer = BatchWriter(table, max_rows=100, max_seconds=0.05)
    writer.start()
    futures = [writer.add({"seq": i, "time": T0}) for i in range(250)]
    await asyncio.gather(*futures)
    await writer.close()
    assert (await table.read()).num_rows == 250
    assert 1 <= writer.commits <= 4
    assert table.version() <= 4


async def test_a_batch_is_committed_by_age_when_not_full(data_root: Path) -> None:
    table = Table.open(data_root, TICKS)
    writer = BatchWriter(table, max_rows=1000, max_seconds=0.05)
    writer.start()
    await asyncio.wait_for(writer.add({"seq": 1, "time": T0}), 5)
    assert (await table.read()).num_rows == 1
    await writer.close()


async def test_close_flushes_what_is_pending(data_root: Path) -> None:
    table = Table.open(data_root, TICKS)
    writer = BatchWriter(table, max_rows=1000, max_seconds=60)
    writer.start()
    writer.add([{"seq": 1, "time": T0}, {"seq": 2, "time": T0}])
    await writer.close()
    assert (await table.read()).num_rows == 2


async def test_an_upsert_changes_a_status_and_a_filtered_read_sees_it(orders: Table) -> None:
    await orders.append([order("a"), order("b"), order("c")])
    await orders.upsert([order("b", "filled"), order("d", "submitted")])

    filled = await orders.read(filters=[("status", "=", "filled")])
    assert filled.column("order_ref").to_pylist() == ["b"]
    assert filled.schema.field("status").type == pa.string()  # not string_view
    submitted = await orders.read(
        filters=[("status", "=", "submitted"), ("quantity", ">=", 1)], columns=["order_ref"]
    )
    assert sorted(submitted.column("order_ref").to_pylist()) == ["a", "c", "d"]
    assert (await orders.read()).num_rows == 4


async def test_insert_new_ignores_rows_whose_key_exists(orders: Table) -> None:
    await orders.insert_new([order("a", "submitted")])
    await orders.insert_new([order("a", "filled"), order("b")])
    rows = (await orders.read()).sort_by("order_ref").to_pylist()
    assert [(r["order_ref"], r["status"]) for r in rows] == [("a", "submitted"), ("b", "submitted")]


async def test_filters_on_in_null_and_timestamps(orders: Table) -> None:
    await orders.append([order("a"), {**order("b"), "limit_price": None}])
    assert (await orders.read(filters=[("order_ref", "in", ["a", "z"])])).num_rows == 1
    assert (await orders.read(filters=[("limit_price", "=", None)])).num_rows == 1
    assert (await orders.read(filters=[("updated_at", ">=", T0)])).num_rows == 2
    quote = await orders.read(filters=[("order_ref", "=", "it's")])
    assert quote.num_rows == 0


async def test_compaction_reduces_the_file_count(data_root: Path) -> None:
    table = Table.open(data_root, TICKS)
    for i in range(12):
        await table.append([{"seq": i, "time": T0}])
    assert table.file_count() == 12
    assert await table.compact_if_needed(min_files=20, retention_hours=0) is None

    result = await table.compact_if_needed(min_files=5, retention_hours=0)
    assert result is not None
    assert result.files_before == 12
    assert table.file_count() == result.files_after == 1
    assert (await table.read()).num_rows == 12


async def test_a_string_in_a_float_column_is_refused_not_cast(orders: Table) -> None:
    with pytest.raises(RowError) as err:
        await orders.append([{**order("a"), "limit_price": "1.5"}])
    assert "limit_price" in str(err.value)
    assert (await orders.read()).num_rows == 0


async def test_a_missing_required_value_or_unknown_column_is_refused(orders: Table) -> None:
    with pytest.raises(RowError, match="status"):
        await orders.append([{**order("a"), "status": None}])
    with pytest.raises(RowError, match="unknown columns"):
        await orders.append([{**order("a"), "stauts": "x"}])


async def test_writer_add_refuses_a_bad_row_at_once(data_root: Path) -> None:
    writer = BatchWriter(Table.open(data_root, TICKS), max_rows=10, max_seconds=1)
    with pytest.raises(RowError, match="seq"):
        writer.add({"seq": 1.5, "time": T0})


def test_a_struct_becomes_a_flat_row_with_enum_values_and_json_legs() -> None:
    row = struct_to_row(make(OrderPlaced, quantity=2), table="x")
    assert row["quantity"] == 2
    assert row["purpose"] == make(OrderPlaced).purpose.value
    assert isinstance(row["legs"], str)
    assert row["table"] == "x"
