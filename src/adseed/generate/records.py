"""The generation stage's Delta tables: ``generations`` (lineage) and ``seed_memory``.

``generations`` has one row per generated ad: where the PNG is, its hash, and everything
it came from (segment text, seed and brand paths, backend, parameters) with its
creative scores, so any ad can be traced back and re-made. ``request_id`` is also the
tag ``adseed.request_id`` of the request's MLflow trace. The row's ``volume`` makes it
belong to the schema of the ``generated`` volume it was written to, as governance reads
per-schema tables.

``seed_memory`` remembers the top-3 seeds retrieved for a segment text, so that
seed_index 1 and 2 (also asked by a later process) reuse the same three without a
new vector query. Its key is the normalised text, the embedder's model id, the
index's Delta watermark and the principal: a re-synced index, another embedder or a
caller with other grants gets a fresh query.
"""

from __future__ import annotations

import hashlib
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime

import pyarrow as pa

from adseed.storage.tables import TS, Tables

GENERATIONS = "generations"
SEED_MEMORY = "seed_memory"

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

SEED_MEMORY_SCHEMA = pa.schema(
    [
        pa.field("key", pa.string(), nullable=False),
        pa.field("segment_text", pa.string(), nullable=False),
        pa.field("model_id", pa.string(), nullable=False),
        pa.field("index_version", pa.string(), nullable=False),
        pa.field("principal", pa.string(), nullable=False),
        pa.field("candidates", pa.list_(pa.string()), nullable=False),
        pa.field("scores", pa.list_(pa.float64()), nullable=False),
        pa.field("created_at", TS, nullable=False),
    ]
)


def create_tables(tables: Tables) -> None:
    """Migration step (``0007_generations``): both tables, with change data feed."""
    tables.create(GENERATIONS, GENERATIONS_SCHEMA)
    tables.create(SEED_MEMORY, SEED_MEMORY_SCHEMA)


def normalise_text(text: str) -> str:
    """The form under which two segment texts count as the same request."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def memory_key(text: str, model_id: str, index_version: str, principal: str) -> str:
    parts = (normalise_text(text), model_id, index_version, principal)
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()


@dataclass(frozen=True)
class Remembered:
    """The candidates once retrieved for a key, best first."""

    candidates: tuple[str, ...]
    scores: tuple[float, ...]


def recall(tables: Tables, key: str) -> Remembered | None:
    """The latest remembered candidates for ``key``, or None."""
    rows = tables.read(
        SEED_MEMORY, columns=["candidates", "scores", "created_at"], filters=[("key", "=", key)]
    )
    if rows.num_rows == 0:
        return None
    latest = max(range(rows.num_rows), key=lambda i: rows["created_at"][i].as_py())
    return Remembered(
        tuple(rows["candidates"][latest].as_py()), tuple(rows["scores"][latest].as_py())
    )


def remember(
    tables: Tables,
    key: str,
    text: str,
    model_id: str,
    index_version: str,
    principal: str,
    found: Remembered,
) -> None:
    row = {
        "key": [key],
        "segment_text": [text],
        "model_id": [model_id],
        "index_version": [index_version],
        "principal": [principal],
        "candidates": [list(found.candidates)],
        "scores": [list(found.scores)],
        "created_at": [datetime.now(UTC)],
    }
    tables.append(SEED_MEMORY, pa.Table.from_pydict(row, schema=SEED_MEMORY_SCHEMA))


def generation_row(**values: object) -> pa.Table:
    """One ``generations`` row from keyword values (scores as a dict)."""
    data = {name: [values[name]] for name in GENERATIONS_SCHEMA.names if name != "created_at"}
    data["scores"] = [list(dict(values["scores"]).items())]  # type: ignore[call-overload]
    data["created_at"] = [datetime.now(UTC)]
    return pa.Table.from_pydict(data, schema=GENERATIONS_SCHEMA)
