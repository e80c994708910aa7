"""Bring the vector index up to date with the Delta tables, incrementally by Delta version.

The Change Data Feed of ``asset_embeddings`` and ``assets`` (both created with
``delta.enableChangeDataFeed``) says *which* paths changed since the watermark; the
tables' current snapshot (at the same version) says *what* those paths look like
now. Applying that final state, rather than replaying events one by one, makes a
sync idempotent and indifferent to event order: an interrupted sync that runs again
converges to the same index, and a delete-then-re-append in two commits is one
update. Whenever the feed cannot cover the range (no watermark, vacuumed files,
tables recreated) the index is rebuilt from the snapshot, and the report says why.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from adseed.index.store import INDEX_FORMAT, Watermark, row_schema
from adseed.progress import ProgressFactory, no_progress
from adseed.storage.tables import ASSETS as ASSETS_SCHEMA
from adseed.storage.tables import EMBEDDINGS as EMBEDDINGS_SCHEMA
from adseed.storage.tables import read_snapshot

if TYPE_CHECKING:
    from deltalake import DeltaTable

    from adseed.index.store import VectorIndex
    from adseed.storage.tables import Tables

EMBEDDINGS = "asset_embeddings"
ASSETS = "assets"
_EMB_READ = pa.schema(
    [EMBEDDINGS_SCHEMA.field(c) for c in ("path", "sha256", "model_id", "vector", "embedded_at")]
)
# Never ``content``: it holds the image bytes.
_META_READ = pa.schema([ASSETS_SCHEMA.field(c) for c in ("path", "volume", "kind", "tags")])


class CdfUnavailable(Exception):
    """The Change Data Feed cannot cover the versions a sync needs (internal signal)."""


@dataclass(frozen=True)
class SyncReport:
    """What a sync did; ``versions`` are (asset_embeddings, assets) Delta versions."""

    added: int = 0
    updated: int = 0
    deleted: int = 0
    skipped: int = 0
    from_versions: tuple[int, int] | None = None
    to_versions: tuple[int, int] = (0, 0)
    full_rebuild: bool = False
    reason: str = ""
    ann_built: tuple[str, ...] = ()

    @property
    def up_to_date(self) -> bool:
        return not self.full_rebuild and self.from_versions == self.to_versions

    def summary(self) -> str:
        """One line for the CLI."""
        emb, assets = self.to_versions
        at = f"asset_embeddings v{emb}, assets v{assets}"
        ann = f"; ANN index built for {', '.join(self.ann_built)}" if self.ann_built else ""
        if self.up_to_date:
            return f"index up to date ({at}){ann}"
        extra = (f", {self.skipped} skipped" if self.skipped else "") + ann
        if self.full_rebuild:
            return f"index rebuilt ({self.reason}): {self.added} rows indexed{extra}; at {at}"
        old_emb, old_assets = self.from_versions or (-1, -1)
        return (
            f"index synced asset_embeddings v{old_emb}->v{emb}, assets v{old_assets}->v{assets}: "
            f"{self.added} added, {self.updated} updated, {self.deleted} deleted{extra}"
        )


def sync_index(
    tables: Tables, index: VectorIndex, progress: ProgressFactory = no_progress
) -> SyncReport:
    """Apply every Delta change since the watermark; rebuild when the feed cannot say."""
    emb_dt, assets_dt = tables.open(EMBEDDINGS), tables.open(ASSETS)
    now = (emb_dt.version(), assets_dt.version())
    mark = index.read_watermark()
    reason = _rebuild_reason(mark, now, index)
    if reason or mark is None:
        return _rebuild(emb_dt, assets_dt, index, progress, reason or "no watermark")
    if mark.versions == now:  # no Delta change; only a lowered threshold can ask for work
        built = tuple(m for m in mark.models if index.maintain(m, changed=False) == "built")
        return SyncReport(from_versions=now, to_versions=now, ann_built=built)
    try:
        dirty = _changed_paths(emb_dt, EMBEDDINGS, mark.embeddings_version, now[0])
        dirty |= _changed_paths(assets_dt, ASSETS, mark.assets_version, now[1])
    except CdfUnavailable as exc:
        return _rebuild(emb_dt, assets_dt, index, progress, str(exc))
    counts, built, skipped = _apply(emb_dt, assets_dt, index, dirty, progress)
    index.write_watermark(Watermark(*now, models=tuple(index.model_ids())))
    return SyncReport(
        *counts, skipped=skipped, from_versions=mark.versions, to_versions=now, ann_built=built
    )


def rebuild(
    tables: Tables,
    index: VectorIndex,
    progress: ProgressFactory | None = None,
    reason: str = "requested",
) -> SyncReport:
    """Recreate the whole index from the current Delta snapshot."""
    emb_dt, assets_dt = tables.open(EMBEDDINGS), tables.open(ASSETS)
    return _rebuild(emb_dt, assets_dt, index, progress or no_progress, reason)


def _rebuild_reason(mark: Watermark | None, now: tuple[int, int], index: VectorIndex) -> str:
    if mark is None:
        return "no watermark"
    if mark.format != INDEX_FORMAT:
        return f"index format {mark.format} is not {INDEX_FORMAT}"
    if mark.embeddings_version > now[0] or mark.assets_version > now[1]:
        return "Delta tables are older than the watermark (recreated?)"
    missing = [m for m in mark.models if index.table(m) is None]
    return f"index table for {missing[0]!r} is missing" if missing else ""


def _changed_paths(dt: DeltaTable, name: str, applied: int, until: int) -> set[str]:
    """Paths touched by the commits after ``applied`` up to ``until``, from the CDF."""
    if applied >= until:
        return set()
    try:
        reader = dt.load_cdf(starting_version=applied + 1, ending_version=until, columns=["path"])
        changes = pa.table(reader.read_all())
    except Exception as exc:  # noqa: BLE001 - delta-rs raises bare Exception for vacuumed files
        detail = str(exc).splitlines()[0][:160]
        raise CdfUnavailable(
            f"change data feed of {name} cannot cover v{applied + 1}..v{until}: {detail}"
        ) from exc
    return set(changes["path"].to_pylist())


def _apply(
    emb_dt: DeltaTable,
    assets_dt: DeltaTable,
    index: VectorIndex,
    dirty: set[str],
    progress: ProgressFactory,
) -> tuple[tuple[int, int, int], tuple[str, ...], int]:
    """Make the index rows of ``dirty`` paths match the snapshot: upsert or delete."""
    paths = sorted(dirty)
    dims = {m: d for m in index.model_ids() if (d := index.dim(m)) is not None}
    emb = _read(emb_dt, _EMB_READ, paths)
    desired, skipped = _desired_rows(emb, _meta(assets_dt, paths), dims)
    models = sorted(set(dims) | set(desired))
    added = updated = deleted = 0
    built = []
    bar = progress(total=len(models), desc="index sync", unit="model")
    try:
        for model in models:
            rows = desired.get(model)
            keep = set(rows["path"].to_pylist()) if rows is not None else set()
            removed = index.delete_paths(model, dirty - keep)
            inserted, changed = index.upsert(model, rows) if rows is not None else (0, 0)
            added, updated, deleted = added + inserted, updated + changed, deleted + removed
            if index.maintain(model, changed=bool(removed + inserted + changed)) == "built":
                built.append(model)
            bar.update(1)
    finally:
        bar.close()
    return (added, updated, deleted), tuple(built), skipped


def _rebuild(
    emb_dt: DeltaTable,
    assets_dt: DeltaTable,
    index: VectorIndex,
    progress: ProgressFactory,
    reason: str,
) -> SyncReport:
    now = (emb_dt.version(), assets_dt.version())
    index.clear_watermark()  # a crash mid-rebuild must not leave a mark claiming coverage
    desired, skipped = _desired_rows(_read(emb_dt, _EMB_READ), _meta(assets_dt))
    for stale in set(index.model_ids()) - set(desired):
        index.drop(stale)
    built = []
    bar = progress(
        total=sum(t.num_rows for t in desired.values()), desc="index rebuild", unit="row"
    )
    try:
        for model, rows in sorted(desired.items()):
            index.replace(model, rows)
            if index.maintain(model, changed=False) == "built":
                built.append(model)
            bar.update(rows.num_rows)
    finally:
        bar.close()
    index.write_watermark(Watermark(*now, models=tuple(sorted(desired))))
    total = sum(t.num_rows for t in desired.values())
    return SyncReport(
        added=total,
        skipped=skipped,
        to_versions=now,
        full_rebuild=True,
        reason=reason,
        ann_built=tuple(built),
    )


# -- reading the snapshot ------------------------------------------------------------


def _read(dt: DeltaTable, schema: pa.Schema, paths: list[str] | None = None) -> pa.Table:
    """The snapshot's columns named in ``schema``, only for ``paths`` when given."""
    filters = None if paths is None else [("path", "in", paths)]
    return read_snapshot(dt, schema.names, filters).cast(schema)


def _meta(assets_dt: DeltaTable, paths: list[str] | None = None) -> dict[str, tuple]:
    """path -> (volume, kind, sorted "key=value" tags) from the current ``assets``."""
    table = _read(assets_dt, _META_READ, paths)
    out = {}
    for row in table.to_pylist():
        tags = sorted(f"{k}={v}" for k, v in (row["tags"] or []))
        out[row["path"]] = (row["volume"], row["kind"], tags)
    return out


def _latest_per_key(emb: pa.Table) -> pa.Table:
    """One row per (path, model_id): the latest ``embedded_at`` wins over re-embeddings."""
    emb = emb.sort_by([("embedded_at", "ascending")])
    keys = zip(emb["path"].to_pylist(), emb["model_id"].to_pylist(), strict=True)
    last = {key: i for i, key in enumerate(keys)}
    return emb.take(pa.array(sorted(last.values()), type=pa.int64()))


def _desired_rows(
    emb: pa.Table, meta: dict[str, tuple], dims: dict[str, int] | None = None
) -> tuple[dict[str, pa.Table], int]:
    """Group embeddings by model into index rows; count rows that cannot be indexed.

    ``dims`` pins the dimension of models whose index table already exists, so a
    stray vector in a small incremental batch cannot redefine it.
    """
    emb = _latest_per_key(emb)
    out: dict[str, pa.Table] = {}
    skipped = 0
    for model_id in sorted(pc.unique(emb["model_id"]).to_pylist()):
        part = emb.filter(pc.equal(emb["model_id"], model_id))
        rows, bad = _model_rows(model_id, part, meta, (dims or {}).get(model_id))
        skipped += bad
        if rows.num_rows:
            out[model_id] = rows
    return out, skipped


def _model_rows(
    model_id: str, emb: pa.Table, meta: dict[str, tuple], dim: int | None
) -> tuple[pa.Table, int]:
    """Rows for one model's table, skipping orphans (asset gone) and unusable vectors.

    Without a pinned ``dim`` the dimension is the one most rows share: a stray vector
    of another length, or a zero / non-finite one (cosine is undefined for it),
    cannot be ranked.
    """
    lengths = pc.list_value_length(emb["vector"]).to_numpy(zero_copy_only=False)
    if dim is None:
        dim = Counter(lengths.tolist()).most_common(1)[0][0] if len(lengths) else 0
    paths = emb["path"].to_pylist()
    keep = np.array([p in meta for p in paths], dtype=bool) & (lengths == dim) & (dim > 0)
    kept = emb.filter(pa.array(keep))
    if kept.num_rows == 0:
        return row_schema(max(dim, 1), model_id).empty_table(), emb.num_rows
    flat = pc.list_flatten(kept["vector"]).to_numpy(zero_copy_only=False)
    vectors = flat.astype(np.float32).reshape(kept.num_rows, dim)
    norms = np.linalg.norm(vectors, axis=1)
    usable = np.isfinite(vectors).all(axis=1) & (norms > 1e-12)
    kept, vectors = kept.filter(pa.array(usable)), vectors[usable]
    info = [meta[p] for p in kept["path"].to_pylist()]
    rows = pa.table(
        {
            "path": kept["path"],
            "sha256": kept["sha256"],
            "model_id": kept["model_id"],
            "vector": pa.FixedSizeListArray.from_arrays(pa.array(vectors.ravel()), dim),
            "kind": pa.array([i[1] for i in info], pa.string()),
            "volume": pa.array([i[0] for i in info], pa.string()),
            "tags": pa.array([i[2] for i in info], pa.list_(pa.string())),
        },
        schema=row_schema(dim, model_id),
    )
    return rows, emb.num_rows - rows.num_rows
