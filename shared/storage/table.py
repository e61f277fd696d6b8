"""A Delta table owned by one service: created from its declared schema on first start.

deltalake calls block (Rust, file I/O), so every operation runs in a worker thread; one lock per
table keeps the service's own writes and reads of the ``DeltaTable`` object in sequence.

Exactly-once from a stream: a table with a ``key`` (e.g. ``event_id``) is written with
``insert_new``, a merge that inserts only rows whose key is absent. A message redelivered after
a crash between the write and the ack (kill -9) therefore changes nothing the second time, and
it does so whatever the order of redeliveries, which a stream-sequence watermark
(``app_transactions``) would not guarantee for a consumer with retries.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
from deltalake import DeltaTable, QueryBuilder, write_deltalake
from deltalake.exceptions import CommitFailedError

from shared.storage.rows import Row, to_arrow

log = logging.getLogger(__name__)

COMMIT_ATTEMPTS = 5

# (column, op, value); op one of = != < <= > >= in "not in"; value None means IS (NOT) NULL
Filter = tuple[str, str, Any]
_OPS = frozenset({"=", "!=", "<", "<=", ">", ">=", "in", "not in"})


Mode = Literal["append", "insert_new", "upsert"]


@dataclass(frozen=True)
class TableSpec:
    """A table declared once: name (folder under the root), schema, key, partitioning, and how
    its batched rows are written: ``append``; ``insert_new`` (keyed: a replayed row is a no-op,
    the default for keyed tables); ``upsert`` (keyed: a row whose status changes)."""

    name: str
    schema: pa.Schema
    key: tuple[str, ...] | None = None
    partition_by: tuple[str, ...] = ()
    writes: Mode | None = None


@dataclass(frozen=True)
class Compaction:
    files_before: int
    files_after: int


def _literal(value: Any) -> str:
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    if isinstance(value, dt.datetime):
        return f"TIMESTAMP '{value.astimezone(dt.UTC).isoformat()}'"
    if isinstance(value, dt.date):
        return f"DATE '{value.isoformat()}'"
    raise TypeError(f"cannot filter on a {type(value).__name__}")


def _where(filters: Sequence[Filter]) -> str:
    terms = []
    for column, op, value in filters:
        if op not in _OPS:
            raise ValueError(f"unknown filter operator {op!r}")
        col = f'"{column}"'
        if value is None:
            terms.append(f"{col} IS {'NOT ' if op == '!=' else ''}NULL")
        elif op in ("in", "not in"):
            terms.append(f"{col} {op.upper()} ({', '.join(_literal(v) for v in value)})")
        else:
            terms.append(f"{col} {op} {_literal(value)}")
    return " WHERE " + " AND ".join(terms) if terms else ""


def _plain_strings(table: pa.Table) -> pa.Table:
    # pyarrow >= 21: files rewritten by merge hold string_view, which most kernels reject
    fields = [
        pa.field(f.name, pa.string(), f.nullable) if pa.types.is_string_view(f.type) else f
        for f in table.schema
    ]
    return table.cast(pa.schema(fields))


class Table:
    """One Delta table; build it with ``Table.open``."""

    def __init__(self, uri: str, spec: TableSpec, delta: DeltaTable) -> None:
        self.uri = uri
        self.spec = spec
        self._dt = delta
        self._lock = asyncio.Lock()

    @classmethod
    def open(cls, root: str | Path, spec: TableSpec) -> Table:
        """Open the table under ``root``, creating it with its schema on first start (blocking)."""
        uri = f"{str(root).rstrip('/')}/{spec.name}"
        if "://" not in uri:
            Path(uri).mkdir(parents=True, exist_ok=True)
        delta = DeltaTable.create(
            uri, schema=spec.schema, mode="ignore", partition_by=list(spec.partition_by) or None
        )
        return cls(uri, spec, delta)

    @property
    def name(self) -> str:
        return self.spec.name

    def version(self) -> int:
        return self._dt.version()

    def file_count(self) -> int:
        return len(self._dt.file_uris())

    async def _run(self, fn: Any, *args: Any) -> Any:
        # shielded: a cancelled caller must not release the lock while the thread still runs
        return await asyncio.shield(self._locked(fn, *args))

    async def _locked(self, fn: Any, *args: Any) -> Any:
        async with self._lock:
            return await asyncio.to_thread(fn, *args)

    # --- writes -----------------------------------------------------------------------------

    async def append(self, rows: Iterable[Row]) -> None:
        """Append rows in one commit."""
        data = to_arrow(self.name, self.spec.schema, rows)
        if data.num_rows:
            await self._run(self._append, data)

    def _append(self, data: pa.Table) -> None:
        write_deltalake(self._dt, data, mode="append")
        self._dt.update_incremental()

    async def upsert(self, rows: Iterable[Row]) -> None:
        """Insert rows, replacing the row with the same key (the last row of a key wins)."""
        data = self._keyed(rows, keep="last")
        if data.num_rows:
            await self._run(self._merge, data, True)

    async def insert_new(self, rows: Iterable[Row]) -> None:
        """Insert only rows whose key is not in the table yet: replays change nothing."""
        data = self._keyed(rows, keep="first")
        if data.num_rows:
            await self._run(self._merge, data, False)

    def _keyed(self, rows: Iterable[Row], keep: str) -> pa.Table:
        if not self.spec.key:
            raise ValueError(f"{self.name} has no key: use append")
        key = self.spec.key
        unique: dict[tuple[Any, ...], Row] = {}
        for row in rows:
            k = tuple(row.get(c) for c in key)
            if keep == "last" or k not in unique:
                unique[k] = row
        return to_arrow(self.name, self.spec.schema, unique.values())

    def _merge(self, data: pa.Table, update: bool) -> None:
        predicate = " AND ".join(f't."{c}" = s."{c}"' for c in self.spec.key or ())
        for attempt in range(1, COMMIT_ATTEMPTS + 1):
            merger = self._dt.merge(data, predicate=predicate, source_alias="s", target_alias="t")
            if update:
                merger = merger.when_matched_update_all()
            try:
                merger.when_not_matched_insert_all().execute()
                return
            except CommitFailedError:
                # another writer committed first: reload and merge again
                if attempt == COMMIT_ATTEMPTS:
                    raise
                log.warning("merge conflict, retrying", extra={"table": self.name})
            finally:
                self._dt.update_incremental()

    # --- reads ------------------------------------------------------------------------------

    async def read(
        self, filters: Sequence[Filter] = (), columns: Sequence[str] | None = None
    ) -> pa.Table:
        """Rows matching every filter (AND), as plain Arrow types, also after a merge."""
        return await self._run(self._read, tuple(filters), columns)

    def _read(self, filters: Sequence[Filter], columns: Sequence[str] | None) -> pa.Table:
        self._dt.update_incremental()
        cols = ", ".join(f'"{c}"' for c in columns) if columns else "*"
        sql = f"SELECT {cols} FROM t{_where(filters)}"
        # QueryBuilder rather than to_pyarrow_table: filters on string_view files fail there,
        # and pyarrow's dataset threads made the process abort at exit (measured, pyarrow 26)
        result = QueryBuilder().register("t", self._dt).execute(sql).read_all()
        return _plain_strings(pa.table(result))

    # --- maintenance ------------------------------------------------------------------------

    async def compact(self, retention_hours: int = 168) -> Compaction:
        """Rewrite small files into few, then vacuum files older than the retention."""
        return await self._run(self._compact, retention_hours)

    def _compact(self, retention_hours: int) -> Compaction:
        before = len(self._dt.file_uris())
        self._dt.optimize.compact()
        self._dt.vacuum(
            retention_hours=retention_hours, enforce_retention_duration=False, dry_run=False
        )
        self._dt.update_incremental()
        return Compaction(before, len(self._dt.file_uris()))

    async def compact_if_needed(self, min_files: int, retention_hours: int) -> Compaction | None:
        if self.file_count() <= min_files:
            return None
        result = await self.compact(retention_hours)
        log.info(
            "table compacted",
            extra={"table": self.name, "before": result.files_before, "after": result.files_after},
        )
        return result
