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

import pyarrow as pa
from deltalake import DeltaTable, write_deltalake

from adseed.errors import StateError

TS = pa.timestamp("us", tz="UTC")
CDF = {"delta.enableChangeDataFeed": "true"}

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
        self, name: str, columns: Sequence[str] | None = None, filters: list | None = None
    ) -> pa.Table:
        return self.open(name).to_pyarrow_table(
            columns=list(columns) if columns else None, filters=filters
        )

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


MIGRATIONS: list[tuple[str, Callable[[Tables], None]]] = [
    ("0001_assets", _m0001_assets),
    ("0002_asset_embeddings", _m0002_asset_embeddings),
]


def sql_quote(value: str) -> str:
    """Quote a string literal for a Delta predicate (single quotes doubled)."""
    return "'" + value.replace("'", "''") + "'"
