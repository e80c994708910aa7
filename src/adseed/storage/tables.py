"""The Delta tables of a workspace: their schemas, their named migrations, and small helpers.

Tables live under ``<home>/tables/<name>`` and are plain Delta Lake tables written
with ``deltalake`` (delta-rs), so DuckDB, Polars and Spark read them as they are.
Schema changes are named, ordered migrations recorded in ``_migrations.json``; a
workspace applies the ones it has not seen yet when it opens.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from deltalake import DeltaTable, QueryBuilder, write_deltalake

from adseed.errors import StateError

TS = pa.timestamp("us", tz="UTC")
CDF = {"delta.enableChangeDataFeed": "true"}
_MAX_SQL_IN = 2000  # longer IN lists: one scan and an in-memory filter

ASSETS = pa.schema(
    [
        pa.field("path", pa.string(), nullable=False),
        pa.field("volume", pa.string(), nullable=False),
        pa.field("sha256", pa.string(), nullable=False),
        pa.field("content", pa.binary(), nullable=False),
        pa.field("size_bytes", pa.int64(), nullable=False),
        pa.field("width", pa.int32(), nullable=False),
        pa.field("height", pa.int32(), nullable=False),
        pa.field("format", pa.string(), nullable=False),
        pa.field("kind", pa.string(), nullable=False),
        pa.field("tags", pa.map_(pa.string(), pa.string())),
        pa.field("source_name", pa.string()),
        pa.field("ingested_at", TS, nullable=False),
    ]
)

EMBEDDINGS = pa.schema(
    [
        pa.field("path", pa.string(), nullable=False),
        pa.field("sha256", pa.string(), nullable=False),
        pa.field("model_id", pa.string(), nullable=False),
        pa.field("vector", pa.list_(pa.float32()), nullable=False),
        pa.field("embedded_at", TS, nullable=False),
    ]
)


class Tables:
    """Opens, creates and migrates the Delta tables of one workspace."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def uri(self, name: str) -> str:
        return str(self.root / name)

    def exists(self, name: str) -> bool:
        return DeltaTable.is_deltatable(self.uri(name))

    def open(self, name: str) -> DeltaTable:
        if not self.exists(name):
            raise StateError(f"table {name!r} does not exist: run 'adseed init' first")
        return DeltaTable(self.uri(name))

    def create(self, name: str, schema: pa.Schema) -> None:
        if not self.exists(name):
            DeltaTable.create(self.uri(name), schema, configuration=CDF, name=name)

    def append(self, name: str, rows: pa.Table) -> int:
        """Append rows in one Delta commit; returns the new table version."""
        write_deltalake(self.uri(name), rows, mode="append")
        return self.open(name).version()

    def read(
        self,
        name: str,
        columns: Sequence[str] | None = None,
        filters: Sequence[tuple[str, str, Any]] | None = None,
    ) -> pa.Table:
        """Rows of the table's current snapshot (see :func:`read_snapshot`)."""
        return read_snapshot(self.open(name), columns, filters)

    def version(self, name: str) -> int:
        return self.open(name).version()

    # -- migrations -------------------------------------------------------------------

    @property
    def _ledger(self) -> Path:
        return self.root / "_migrations.json"

    def applied_migrations(self) -> list[str]:
        try:
            return list(json.loads(self._ledger.read_text()))
        except FileNotFoundError:
            return []

    def migrate(self) -> list[str]:
        """Apply, in order, every migration not yet recorded; return the names applied."""
        self.root.mkdir(parents=True, exist_ok=True)
        done = self.applied_migrations()
        applied = []
        for name, step in MIGRATIONS:
            if name in done:
                continue
            step(self)
            done.append(name)
            applied.append(name)
            tmp = self._ledger.with_suffix(".tmp")
            tmp.write_text(json.dumps(done, indent=1))
            os.replace(tmp, self._ledger)
        return applied


def _m0001_assets(tables: Tables) -> None:
    tables.create("assets", ASSETS)


def _m0002_asset_embeddings(tables: Tables) -> None:
    tables.create("asset_embeddings", EMBEDDINGS)


def _m0003_audit(tables: Tables) -> None:
    from adseed.governance.audit import AUDIT

    tables.create("audit", AUDIT)


def _m0004_copy(tables: Tables) -> None:
    from adseed.copy.store import create_table  # the copy stage owns its schema

    create_table(tables)


def _m_audience_events(tables: Tables) -> None:
    from adseed.audience.schema import create_events

    create_events(tables)


def _m_audience_segments(tables: Tables) -> None:
    from adseed.audience.schema import create_segments

    create_segments(tables)


def _m0007_generations(tables: Tables) -> None:
    from adseed.generate.records import create_tables  # the generation stage owns its schemas

    create_tables(tables)


def _m0008_seed_memory_sqlite(tables: Tables) -> None:
    from adseed.generate.memory import migrate_from_delta  # measured reason in its docstring

    migrate_from_delta(tables)


MIGRATIONS: list[tuple[str, Callable[[Tables], None]]] = [
    ("0001_assets", _m0001_assets),
    ("0002_asset_embeddings", _m0002_asset_embeddings),
    ("0003_audit", _m0003_audit),
    ("0004_copy", _m0004_copy),
    ("0005_audience_events", _m_audience_events),
    ("0006_audience_segments", _m_audience_segments),
    ("0007_generations", _m0007_generations),
    ("0008_seed_memory_sqlite", _m0008_seed_memory_sqlite),
]


def read_snapshot(
    dt: DeltaTable,
    columns: Sequence[str] | None = None,
    filters: Sequence[tuple[str, str, Any]] | None = None,
) -> pa.Table:
    """Rows of ``dt``'s snapshot; ``filters`` are ANDed ``(column, "=" | "in", value)``.

    Filters run as SQL in delta-rs's own engine, not through pyarrow's dataset
    filters: on deltalake 1.6 those fail with "no kernel matching (string,
    string_view)" once a DELETE has rewritten a file. Results keep the table's types.
    """
    full_schema = pa.schema(dt.schema().to_arrow())
    schema = pa.schema([full_schema.field(c) for c in columns]) if columns else full_schema
    if not filters:
        return dt.to_pyarrow_table(columns=schema.names).cast(schema)
    in_lists = [v for _, op, v in filters if op == "in"]
    if any(len(v) == 0 for v in in_lists):
        return schema.empty_table()
    if sum(len(v) for v in in_lists) > _MAX_SQL_IN:  # one scan, then filter in memory
        full = dt.to_pyarrow_table(columns=schema.names).cast(schema)
        return _filter(full, filters)
    select = ", ".join(f'"{c}"' for c in schema.names)
    where = " AND ".join(_predicate(*f) for f in filters)
    query = QueryBuilder().register("t", dt).execute(f"SELECT {select} FROM t WHERE {where}")
    return pa.table(query.read_all()).cast(schema)


def sql_quote(value: str) -> str:
    """Quote a string literal for a Delta predicate (single quotes doubled)."""
    return "'" + value.replace("'", "''") + "'"


def _literal(value: Any) -> str:
    if isinstance(value, str):
        return sql_quote(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"unsupported filter value {value!r}")
    return str(value)


def _predicate(column: str, op: str, value: Any) -> str:
    if op == "=":
        return f'"{column}" = {_literal(value)}'
    if op == "in":
        return f'"{column}" IN ({", ".join(_literal(v) for v in value)})'
    raise ValueError(f"unsupported filter operator {op!r}")


def _filter(table: pa.Table, filters: Sequence[tuple[str, str, Any]]) -> pa.Table:
    for column, op, value in filters:
        values = pa.array(list(value) if op == "in" else [value], table.schema.field(column).type)
        table = table.filter(pc.is_in(table[column], value_set=values))
    return table
