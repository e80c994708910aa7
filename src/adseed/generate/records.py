"""The generation stage's Delta table ``generations``: one lineage row per generated ad.

Each row says where the PNG is, its hash, and everything it came from (segment text,
seed and brand paths, backend, parameters) with its creative scores, so any ad can be
traced back and re-made. ``request_id`` is also the tag ``adseed.request_id`` of the
MLflow trace the request is part of. The row's ``volume`` makes it belong to the schema
of the ``generated`` volume it was written to, as governance reads per-schema tables.
(The remembered top-3 seeds live in SQLite: see :mod:`adseed.generate.memory`.)
"""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa

from adseed.storage.tables import TS, Tables

GENERATIONS = "generations"

GENERATIONS_SCHEMA = pa.schema(
    [
        pa.field("path", pa.string(), nullable=False),
        pa.field("volume", pa.string(), nullable=False),
        pa.field("sha256", pa.string(), nullable=False),
        pa.field("segment_text", pa.string(), nullable=False),
        pa.field("seed_path", pa.string(), nullable=False),
        pa.field("brand_path", pa.string(), nullable=False),
        pa.field("backend", pa.string(), nullable=False),
        pa.field("format", pa.string(), nullable=False),
        pa.field("width", pa.int32(), nullable=False),
        pa.field("height", pa.int32(), nullable=False),
        pa.field("parameters", pa.string(), nullable=False),  # JSON object
        pa.field("scores", pa.map_(pa.string(), pa.float64())),
        pa.field("principal", pa.string(), nullable=False),
        pa.field("request_id", pa.string(), nullable=False),
        pa.field("created_at", TS, nullable=False),
    ]
)

def create_tables(tables: Tables) -> None:
    """Migration step (``0007_generations``): the lineage table, with change data feed.

    Workspaces made before migration 0008 also got a Delta table ``seed_memory`` here;
    0008 moves its rows to :mod:`adseed.generate.memory` and removes it.
    """
    tables.create(GENERATIONS, GENERATIONS_SCHEMA)


def generation_row(**values: object) -> pa.Table:
    """One ``generations`` row from keyword values (scores as a dict)."""
    data = {name: [values[name]] for name in GENERATIONS_SCHEMA.names if name != "created_at"}
    data["scores"] = [list(dict(values["scores"]).items())]  # type: ignore[call-overload]
    data["created_at"] = [datetime.now(UTC)]
    return pa.Table.from_pydict(data, schema=GENERATIONS_SCHEMA)
