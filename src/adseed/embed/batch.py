"""Batch inference over the ``assets`` table into ``asset_embeddings``.

Resumable by construction: every chunk is committed to Delta on its own, and a run
only embeds assets that have no row yet for the embedder's ``model_id``; a killed
run loses at most the chunk in flight. A file that cannot be decoded is skipped with
one line naming it and why, and the run goes on.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from adseed.config import Settings
from adseed.embed.base import Embedder
from adseed.errors import AdseedError
from adseed.progress import ProgressFactory, no_progress
from adseed.storage.tables import EMBEDDINGS, Tables

CHUNK_BATCHES = 8  # a chunk (one Delta commit) holds this many embedder batches


@dataclass(frozen=True)
class EmbedReport:
    model_id: str
    embedded: int
    already: int
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"embedded {self.embedded}, already embedded {self.already}, "
            f"skipped {len(self.skipped)} ({self.model_id})"
        )


def pending_assets(
    tables: Tables, model_id: str, volumes: Collection[str] | None = None
) -> tuple[pa.Table, int]:
    """Assets (path, sha256, volume) with no vector for ``model_id``, and the count done.

    ``volumes`` limits the work to assets of those volumes (what the caller may embed).
    """
    assets = tables.read("assets", columns=["path", "sha256", "volume"])
    if volumes is not None:
        assets = assets.filter(pc.is_in(assets["volume"], value_set=pa.array(sorted(volumes))))
    done = tables.read(
        "asset_embeddings", columns=["path", "sha256"], filters=[("model_id", "=", model_id)]
    )
    keys = pc.binary_join_element_wise(assets["path"], assets["sha256"], "\x00")
    done_keys = pc.binary_join_element_wise(done["path"], done["sha256"], "\x00")
    todo = assets.filter(pc.invert(pc.is_in(keys, value_set=done_keys)))
    return todo.sort_by("path"), assets.num_rows - todo.num_rows


def _read_contents(tables: Tables, paths: Sequence[str]) -> dict[str, bytes]:
    rows = tables.read("assets", columns=["path", "content"], filters=[("path", "in", paths)])
    return dict(zip(rows["path"].to_pylist(), rows["content"].to_pylist(), strict=True))


def _embed_isolating_failures(
    embedder: Embedder, paths: list[str], blobs: list[bytes], on_skip: Callable[[str, str], None]
) -> tuple[list[str], np.ndarray]:
    """Embed a chunk; if one item breaks it, embed item by item to skip only the bad ones."""
    try:
        return paths, embedder.embed_images(blobs)
    except AdseedError:
        kept, vectors = [], []
        for path, blob in zip(paths, blobs, strict=True):
            try:
                vectors.append(embedder.embed_images([blob])[0])
                kept.append(path)
            except AdseedError as exc:
                on_skip(path, str(exc))
        return kept, np.stack(vectors) if vectors else np.zeros((0, embedder.dim), np.float32)


def embed_missing(
    tables: Tables,
    embedder: Embedder,
    settings: Settings,
    progress: ProgressFactory = no_progress,
    on_skip: Callable[[str, str], None] | None = None,
    volumes: Collection[str] | None = None,
) -> EmbedReport:
    todo, already = pending_assets(tables, embedder.model_id, volumes)
    skipped: list[tuple[str, str]] = []

    def skip(path: str, reason: str) -> None:
        skipped.append((path, reason))
        if on_skip:
            on_skip(path, reason)

    chunk = settings.batch_size * CHUNK_BATCHES
    bar = progress(total=todo.num_rows, desc="embed", unit="img")
    embedded = 0
    try:
        for start in range(0, todo.num_rows, chunk):
            part = todo.slice(start, chunk)
            paths = part["path"].to_pylist()
            contents = _read_contents(tables, paths)
            blobs = [contents[p] for p in paths]
            kept, vectors = _embed_isolating_failures(embedder, paths, blobs, skip)
            if kept:
                shas = dict(zip(paths, part["sha256"].to_pylist(), strict=True))
                tables.append("asset_embeddings", _rows(kept, shas, embedder.model_id, vectors))
            embedded += len(kept)
            bar.update(len(paths))
    finally:
        bar.close()
    return EmbedReport(embedder.model_id, embedded, already, skipped)


def _rows(paths: list[str], shas: dict[str, str], model_id: str, vectors: np.ndarray) -> pa.Table:
    now = datetime.now(UTC)
    flat = pa.array(np.ascontiguousarray(vectors, dtype=np.float32).ravel())
    offsets = pa.array(np.arange(0, len(flat) + 1, max(vectors.shape[1], 1), dtype=np.int32))
    return pa.table(
        {
            "path": paths,
            "sha256": [shas[p] for p in paths],
            "model_id": [model_id] * len(paths),
            "vector": pa.ListArray.from_arrays(offsets, flat),
            "embedded_at": pa.array([now] * len(paths), type=EMBEDDINGS.field("embedded_at").type),
        },
        schema=EMBEDDINGS,
    )
