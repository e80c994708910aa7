"""The vector index: one LanceDB table per embedder ``model_id``, plus a Delta watermark.

Vectors made by different ``model_id`` values must never be compared, so each model
gets its own table (and its own vector dimension). The index is derived data: the
Delta tables are the source of truth, the watermark records which Delta versions it
reflects, and :meth:`VectorIndex.rebuild` recreates it from scratch at any time.

Search is exact (a flat scan) below ``settings.exact_search_below`` rows and uses an
IVF_SQ index above. IVF_SQ was chosen over IVF_PQ and IVF_HNSW_SQ by measurement at
100k x 384 on 2 cores (``bench/search.py --ann all``, ConSE vectors + random ones):
recall@10 1.00 at 4.6 ms p50 with a 0.6 s build, against IVF_PQ 0.63 / 6.0 ms /
18 s and IVF_HNSW_SQ 1.00 / 4.0 ms / 45 s. On weakly clustered synthetic vectors the
gap widened (IVF_SQ 1.00, IVF_PQ 0.76 or 0.97 with 48 sub-vectors, HNSW_SQ 0.98
after a 75 s build). A sync that retrains must stay cheap, so IVF_SQ. Every ANN query
is refined on the full float32 vectors, so its scores are exact cosine similarities.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from adseed.errors import StateError
from adseed.storage.tables import sql_quote

if TYPE_CHECKING:
    from adseed.config import Settings
    from adseed.progress import ProgressFactory
    from adseed.storage.tables import Tables

INDEX_FORMAT = 1
MAX_K = 1000
WATERMARK_FILE = "_watermark.json"
MODEL_KEY = b"adseed.model_id"
_IN_CHUNK = 500  # paths per ``IN (...)`` predicate: keeps SQL strings small

# Per ANN type: how to build it, and the query knobs that gave recall@10 >= 0.99 above.
ANN_TYPES = ("IVF_SQ", "IVF_PQ", "IVF_HNSW_SQ")
_NPROBES = 20
_REFINE = 5
_EF = 80


def row_schema(dim: int, model_id: str) -> pa.Schema:
    """The LanceDB row schema; the model id rides in the schema metadata for listing."""
    return pa.schema(
        [
            pa.field("path", pa.string(), nullable=False),
            pa.field("sha256", pa.string(), nullable=False),
            pa.field("model_id", pa.string(), nullable=False),
            pa.field("vector", pa.list_(pa.float32(), dim), nullable=False),
            pa.field("kind", pa.string(), nullable=False),
            pa.field("volume", pa.string(), nullable=False),
            # "key=value" strings: filterable with array_has(tags, 'k=v'), unlike a map.
            pa.field("tags", pa.list_(pa.string())),
        ],
        metadata={MODEL_KEY: model_id.encode()},
    )


def table_name(model_id: str) -> str:
    """A LanceDB-safe, collision-free table name for ``model_id`` (readable prefix + hash)."""
    slug = re.sub(r"[^A-Za-z0-9_-]+", "_", model_id).strip("_-")[:48] or "model"
    return f"emb_{slug}_{hashlib.sha256(model_id.encode()).hexdigest()[:8]}"


def where_sql(
    kind: str | None = None,
    volume: str | None = None,
    tags: dict[str, str] | None = None,
    volumes: Sequence[str] | None = None,
) -> str | None:
    """A LanceDB filter for the metadata columns; values are quoted, never interpolated.

    ``volumes`` restricts hits to those volumes (the ones the caller may read); an
    empty list matches nothing.
    """
    parts = []
    if kind is not None:
        parts.append(f"kind = {sql_quote(kind)}")
    if volume is not None:
        parts.append(f"volume = {sql_quote(volume)}")
    if volumes is not None:
        parts.append(f"volume IN ({', '.join(map(sql_quote, volumes))})" if volumes else "false")
    for key, value in sorted((tags or {}).items()):
        parts.append(f"array_has(tags, {sql_quote(f'{key}={value}')})")
    return " AND ".join(parts) or None


@dataclass(frozen=True)
class Watermark:
    """The Delta versions the index reflects, and the models it holds."""

    embeddings_version: int
    assets_version: int
    models: tuple[str, ...] = ()
    format: int = INDEX_FORMAT

    @property
    def versions(self) -> tuple[int, int]:
        return (self.embeddings_version, self.assets_version)


class VectorIndex:
    """A LanceDB database at ``root``; tables are opened once and reused across searches.

    ``ann`` picks the index type trained above the exact-search threshold; it is a
    constructor argument only so that the benchmark can compare the types.
    """

    def __init__(self, root: Path, settings: Settings, ann: str = "IVF_SQ") -> None:
        if ann not in ANN_TYPES:
            raise ValueError(f"unknown ANN type {ann!r}; expected one of {ANN_TYPES}")
        self.root = Path(root)
        self.settings = settings
        self.ann = ann
        self._db: Any = None
        self._open: dict[str, Any] = {}

    # -- database and tables ---------------------------------------------------------

    @property
    def db(self) -> Any:
        if self._db is None:
            import lancedb

            self.root.mkdir(parents=True, exist_ok=True)
            # Check for other processes' writes at most once a second: a long-lived
            # server sees `adseed index sync` run elsewhere without paying per query.
            self._db = lancedb.connect(self.root, read_consistency_interval=timedelta(seconds=1))
        return self._db

    def _table_names(self) -> list[str]:
        names: list[str] = []
        token = None
        while True:
            page = self.db.list_tables(page_token=token)
            names.extend(page.tables)
            token = page.page_token
            if not token:
                return names

    def table(self, model_id: str) -> Any | None:
        """The open LanceDB table of ``model_id``, or None if it was never synced."""
        name = table_name(model_id)
        if name not in self._open:
            if name not in self._table_names():
                return None
            self._open[name] = self.db.open_table(name)
        return self._open[name]

    def model_ids(self) -> list[str]:
        """Every model id with a table in the index (read from the tables' metadata)."""
        out = []
        for name in self._table_names():
            if name.startswith("emb_"):
                meta = self.db.open_table(name).schema.metadata or {}
                if MODEL_KEY in meta:
                    out.append(meta[MODEL_KEY].decode())
        return sorted(out)

    def dim(self, model_id: str) -> int | None:
        """The vector dimension of the model's table (None when it has no table)."""
        tbl = self.table(model_id)
        return None if tbl is None else int(tbl.schema.field("vector").type.list_size)

    def count(self, model_id: str) -> int:
        tbl = self.table(model_id)
        return 0 if tbl is None else int(tbl.count_rows())

    # -- writes ----------------------------------------------------------------------

    def replace(self, model_id: str, rows: pa.Table) -> None:
        """Overwrite the model's table with ``rows`` (one new LanceDB version)."""
        name = table_name(model_id)
        schema = rows.schema.with_metadata({MODEL_KEY: model_id.encode()})
        mode = "overwrite" if name in self._table_names() else "create"
        self._open[name] = self.db.create_table(name, data=rows.cast(schema), mode=mode)

    def upsert(self, model_id: str, rows: pa.Table) -> tuple[int, int]:
        """Insert or update ``rows`` keyed on (path, model_id); returns (inserted, updated)."""
        if rows.num_rows == 0:
            return (0, 0)
        tbl = self.table(model_id)
        if tbl is None:
            self.replace(model_id, rows)
            return (rows.num_rows, 0)
        result = (
            tbl.merge_insert(["path", "model_id"])
            .when_matched_update_all()
            .when_not_matched_insert_all()
            .execute(rows.cast(tbl.schema))
        )
        return (int(result.num_inserted_rows), int(result.num_updated_rows))

    def delete_paths(self, model_id: str, paths: Iterable[str]) -> int:
        """Delete the rows of ``paths``; returns how many rows were actually removed."""
        tbl = self.table(model_id)
        paths = sorted(set(paths))
        if tbl is None or not paths:
            return 0
        removed = 0
        for i in range(0, len(paths), _IN_CHUNK):
            in_list = ", ".join(sql_quote(p) for p in paths[i : i + _IN_CHUNK])
            removed += int(tbl.delete(f"path IN ({in_list})").num_deleted_rows)
        return removed

    def drop(self, model_id: str) -> None:
        name = table_name(model_id)
        self._open.pop(name, None)
        if name in self._table_names():
            self.db.drop_table(name)

    # -- ANN maintenance -------------------------------------------------------------

    def _vector_index(self, tbl: Any) -> Any | None:
        return next((ix for ix in tbl.list_indices() if ix.columns == ["vector"]), None)

    def maintain(self, model_id: str, changed: bool = True) -> str:
        """Keep the ANN index in step with the table; returns 'exact', 'built' or 'ann'.

        Below the threshold nothing is built (exact search is cheap and needs no
        training data). Above it an index is trained once; later changes are folded
        in by ``optimize`` (which also compacts the small fragments each merge
        leaves), and a fresh training happens when over a fifth of the rows are
        new, because partitions trained on old data lose recall as data drifts.
        """
        tbl = self.table(model_id)
        if tbl is None:
            return "exact"
        rows = int(tbl.count_rows())
        index = self._vector_index(tbl)
        if rows < self.settings.exact_search_below:
            if changed:
                tbl.optimize()
            return "exact"
        if index is None:
            self._build_ann(tbl)
            return "built"
        stats = tbl.index_stats(index.name)
        if stats is not None and stats.num_unindexed_rows > rows // 5:
            self._build_ann(tbl)
            return "built"
        if changed:
            tbl.optimize()
        return "ann"

    def _build_ann(self, tbl: Any) -> None:
        from lancedb.index import Bitmap, HnswSq, IvfPq, IvfSq

        configs = {
            "IVF_SQ": IvfSq(distance_type="cosine"),
            "IVF_PQ": IvfPq(distance_type="cosine"),
            "IVF_HNSW_SQ": HnswSq(distance_type="cosine"),
        }
        tbl.create_index("vector", config=configs[self.ann], replace=True)
        for column in ("kind", "volume"):  # prefilters read these bitmaps, not the rows
            tbl.create_index(column, config=Bitmap(), replace=True)

    # -- search ----------------------------------------------------------------------

    def uses_ann(self, model_id: str) -> bool:
        tbl = self.table(model_id)
        return (
            tbl is not None
            and int(tbl.count_rows()) >= self.settings.exact_search_below
            and self._vector_index(tbl) is not None
        )

    def search(
        self,
        model_id: str,
        vectors: np.ndarray,
        k: int,
        where: str | None = None,
        exact: bool | None = None,
    ) -> list[list[tuple[str, float]]]:
        """Top-``k`` (path, cosine similarity) per query row, best first.

        ``exact`` forces a flat scan (True) or the ANN index (False); None picks by
        the table size. All queries go to LanceDB in one call.
        """
        tbl = self.table(model_id)
        if tbl is None:
            raise StateError(f"no index for model {model_id!r}")
        vectors = np.asarray(vectors, dtype=np.float32).reshape(len(vectors), -1)
        dim = self.dim(model_id)
        if vectors.shape[1] != dim:
            raise StateError(
                f"index for {model_id!r} holds {dim}-d vectors, the query has "
                f"{vectors.shape[1]}: rebuild it with 'adseed index sync'"
            )
        use_ann = self.uses_ann(model_id) if exact is None else not exact
        query = tbl.search(list(vectors)).distance_type("cosine").limit(k)
        query = query.select(["path", "_distance"])
        if where:
            query = query.where(where, prefilter=True)
        query = self._ann_knobs(query, k) if use_ann else query.bypass_vector_index()
        return _group_hits(query.to_arrow(), len(vectors))

    def _ann_knobs(self, query: Any, k: int) -> Any:
        if self.ann == "IVF_HNSW_SQ":
            query = query.ef(max(_EF, 2 * k))
        else:  # maximum 0: widen only when a selective filter leaves too few hits
            query = query.minimum_nprobes(_NPROBES).maximum_nprobes(0)
        return query.refine_factor(_REFINE)

    # -- watermark -------------------------------------------------------------------

    @property
    def watermark_path(self) -> Path:
        return self.root / WATERMARK_FILE

    def read_watermark(self) -> Watermark | None:
        """The applied Delta versions, or None when missing or unreadable (→ full rebuild)."""
        try:
            raw = json.loads(self.watermark_path.read_text())
            return Watermark(
                embeddings_version=int(raw["embeddings_version"]),
                assets_version=int(raw["assets_version"]),
                models=tuple(raw.get("models", ())),
                format=int(raw.get("format", 0)),
            )
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def write_watermark(self, mark: Watermark) -> None:
        """Write atomically (temp file, fsync, rename) so a crash never leaves half a file."""
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.watermark_path.with_suffix(".tmp")
        with open(tmp, "w") as fh:
            json.dump({**asdict(mark), "models": list(mark.models)}, fh, indent=1)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.watermark_path)

    def clear_watermark(self) -> None:
        self.watermark_path.unlink(missing_ok=True)

    # -- rebuild ---------------------------------------------------------------------

    def rebuild(self, tables: Tables, progress: ProgressFactory | None = None) -> Any:
        """Recreate every model table from the Delta tables; returns a SyncReport."""
        from adseed.index.sync import rebuild

        return rebuild(tables, self, progress, reason="requested")


def _group_hits(result: pa.Table, n_queries: int) -> list[list[tuple[str, float]]]:
    """Split LanceDB's batched result by ``query_index``; score = 1 - cosine distance."""
    out: list[list[tuple[str, float]]] = [[] for _ in range(n_queries)]
    cols = result.column_names
    qidx: Sequence[int] = (
        result["query_index"].to_pylist() if "query_index" in cols else [0] * result.num_rows
    )
    paths = result["path"].to_pylist()
    dists = result["_distance"].to_numpy(zero_copy_only=False)
    for q, path, dist in zip(qidx, paths, dists, strict=True):
        out[q].append((path, float(np.clip(1.0 - dist, -1.0, 1.0))))
    for hits in out:
        hits.sort(key=lambda h: (-h[1], h[0]))
    return out
