"""The Delta tables of the audience stage: ``events``, ``segments``, ``segment_members``.

``events`` is the source of truth for user vectors: the FAISS index is derived from it
(and from ``asset_embeddings``) and can be rebuilt from the two at any time. Events are
append-only; ``batch`` is the content hash of what was ingested, so ingesting the same
file twice is a no-op. A segment run writes its members first and its segments last:
a run is visible (in ``segments``) only once both are committed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pyarrow as pa

from adseed.storage.tables import TS

if TYPE_CHECKING:
    from adseed.storage.tables import Tables

EVENT_TYPES = ("view", "click", "purchase")

EVENTS = pa.schema(
    [
        pa.field("user_id", pa.string(), nullable=False),
        pa.field("item", pa.string(), nullable=False),  # a volume path: /Volumes/c/s/v/x.jpg
        pa.field("event", pa.string(), nullable=False),  # one of EVENT_TYPES
        pa.field("ts", TS, nullable=False),
        pa.field("batch", pa.string(), nullable=False),  # sha256 of the ingested content
        pa.field("ingested_at", TS, nullable=False),
    ]
)

SEGMENTS = pa.schema(
    [
        pa.field("segment_id", pa.string(), nullable=False),  # "r<run>s<n>", e.g. r3s0
        pa.field("run", pa.int64(), nullable=False),
        pa.field("k", pa.int32(), nullable=False),
        pa.field("description", pa.string(), nullable=False),  # text for the creative flow
        pa.field("terms", pa.list_(pa.string()), nullable=False),  # nearest vocabulary labels
        pa.field("size", pa.int64(), nullable=False),
        pa.field("share", pa.float64(), nullable=False),
        pa.field("model_id", pa.string(), nullable=False),
        pa.field("centroid", pa.list_(pa.float32()), nullable=False),
        pa.field("created_at", TS, nullable=False),
    ]
)

SEGMENT_MEMBERS = pa.schema(
    [
        pa.field("segment_id", pa.string(), nullable=False),
        pa.field("run", pa.int64(), nullable=False),
        pa.field("user_id", pa.string(), nullable=False),
        pa.field("score", pa.float32(), nullable=False),  # cosine to the segment's centroid
    ]
)


def create_events(tables: Tables) -> None:
    tables.create("events", EVENTS)


def create_segments(tables: Tables) -> None:
    tables.create("segment_members", SEGMENT_MEMBERS)
    tables.create("segments", SEGMENTS)
