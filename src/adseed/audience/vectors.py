"""User vectors: a weighted, time-decayed mean of the embeddings of the items a user touched.

    vector(u) ∝ Σ_e  w(type_e) · 2^(-(t_ref - t_e) / half_life) · item_vector(e)

Only the direction is kept (vectors are L2-normalised for cosine search), and the
direction does not depend on ``t_ref``: moving the reference time multiplies every
term by the same factor. So each user keeps a running sum relative to their own
latest event time, ``S = norm · unit_vector`` at ``ref``; new events, in or out of
order, decay that sum to the new reference and add to it. Folding events in one
batch or in many gives the same vector (up to float rounding), which is what lets
real-time updates and a rebuild from the tables agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from adseed.audience.schema import EVENT_TYPES
from adseed.errors import ConfigError

if TYPE_CHECKING:
    from adseed.config import Settings
    from adseed.storage.tables import Tables

DAY = 86_400.0


@dataclass(frozen=True)
class Weighting:
    """Per-event-type weights and the half-life (seconds; 0 or less: no decay)."""

    weights: tuple[float, float, float]  # in EVENT_TYPES order: view, click, purchase
    half_life_s: float

    @classmethod
    def from_settings(cls, settings: Settings) -> Weighting:
        weights = (
            settings.audience_weight_view,
            settings.audience_weight_click,
            settings.audience_weight_purchase,
        )
        if any(not np.isfinite(w) or w <= 0 for w in weights):
            raise ConfigError(f"audience event weights must be positive, got {weights}")
        if not np.isfinite(settings.audience_half_life_days):
            raise ConfigError("audience_half_life_days must be a number of days (0: no decay)")
        return cls(weights, max(settings.audience_half_life_days, 0.0) * DAY)

    def decay(self, age_s: np.ndarray) -> np.ndarray:
        """2^(-age / half_life); ages are never negative here."""
        if self.half_life_s <= 0:
            return np.ones_like(age_s, dtype=np.float64)
        return np.exp2(-np.asarray(age_s, dtype=np.float64) / self.half_life_s)

    def type_weights(self, events: pa.Array | pa.ChunkedArray) -> np.ndarray:
        codes = pc.index_in(events, value_set=pa.array(EVENT_TYPES)).to_numpy(zero_copy_only=False)
        return np.asarray(self.weights, dtype=np.float64)[codes]


class ItemCatalog:
    """The embeddings of one model for the current assets: volume path → row of a matrix."""

    def __init__(self, paths: list[str], matrix: np.ndarray) -> None:
        self.paths = paths
        self.matrix = np.ascontiguousarray(matrix, dtype=np.float32)
        self.row = {p: i for i, p in enumerate(paths)}

    @property
    def dim(self) -> int:
        return int(self.matrix.shape[1])

    @classmethod
    def load(cls, tables: Tables, model_id: str, dim: int) -> ItemCatalog:
        """Latest vector per path whose content hash matches the asset's current one."""
        assets = tables.read("assets", columns=["path", "sha256"])
        emb = tables.read(
            "asset_embeddings",
            columns=["path", "sha256", "vector", "embedded_at"],
            filters=[("model_id", "=", model_id)],
        ).sort_by([("embedded_at", "ascending")])
        current = dict(zip(assets["path"].to_pylist(), assets["sha256"].to_pylist(), strict=True))
        chosen: dict[str, int] = {}
        for i, (path, sha) in enumerate(
            zip(emb["path"].to_pylist(), emb["sha256"].to_pylist(), strict=True)
        ):
            if current.get(path) == sha:
                chosen[path] = i
        lengths = pc.list_value_length(emb["vector"]).to_numpy(zero_copy_only=False)
        keep = [i for i in chosen.values() if lengths[i] == dim]
        if not keep:
            return cls([], np.zeros((0, dim), np.float32))
        part = emb.take(pa.array(keep, pa.int64()))
        flat = pc.list_flatten(part["vector"]).to_numpy(zero_copy_only=False)
        matrix = flat.astype(np.float32).reshape(len(keep), dim)
        ok = np.isfinite(matrix).all(axis=1) & (np.linalg.norm(matrix, axis=1) > 1e-12)
        paths = [p for p, good in zip(part["path"].to_pylist(), ok, strict=True) if good]
        return cls(paths, matrix[ok])

    def rows_of(self, items: pa.Array | pa.ChunkedArray) -> np.ndarray:
        """Matrix row of each item, -1 where the item has no vector (not embedded yet)."""
        lookup = pa.array(self.paths, pa.string())
        return (
            pc.fill_null(pc.index_in(items, value_set=lookup), -1)
            .to_numpy(zero_copy_only=False)
            .astype(np.int64)
        )


@dataclass
class Folded:
    """New running sums for a set of users, as computed by :func:`fold`."""

    unit: np.ndarray  # (n, dim) float32, L2-normalised (rows of zeros where norm is 0)
    norm: np.ndarray  # (n,) float64: |S| at ref
    ref: np.ndarray  # (n,) float64: epoch seconds of the user's latest event
    weight: np.ndarray  # (n,) float64: Σ decayed weights at ref (activity)
    count: np.ndarray  # (n,) int64: events folded in so far


def fold(
    n_users: int,
    user: np.ndarray,
    item_row: np.ndarray,
    ts_s: np.ndarray,
    type_w: np.ndarray,
    items: np.ndarray,
    weighting: Weighting,
    previous: Folded | None = None,
) -> Folded:
    """Fold events (user index, item row, time, type weight) into each user's running sum.

    ``previous`` holds the users' state before these events (``count == 0`` for users
    never seen). Events on items without a vector (``item_row < 0``) are not folded.
    """
    from scipy.sparse import csr_matrix

    dim = items.shape[1]
    prev = previous or empty_folded(n_users, dim)
    seen = prev.count > 0
    latest = np.full(n_users, -np.inf)
    np.maximum.at(latest, user, ts_s)
    ref = np.where(seen, np.maximum(prev.ref, latest), latest)
    ref = np.where(np.isfinite(ref), ref, prev.ref)
    coef = type_w * weighting.decay(ref[user] - ts_s)
    usable = item_row >= 0
    weights = csr_matrix(
        (coef[usable].astype(np.float32), (user[usable], item_row[usable])),
        shape=(n_users, items.shape[0]),
    )
    sums = np.asarray(weights @ items, dtype=np.float64)
    carry = np.where(seen, prev.norm * weighting.decay(np.maximum(ref - prev.ref, 0.0)), 0.0)
    sums += carry[:, None] * prev.unit
    weight = np.where(seen, prev.weight * weighting.decay(np.maximum(ref - prev.ref, 0.0)), 0.0)
    weight += np.bincount(user[usable], weights=coef[usable], minlength=n_users)
    norm = np.linalg.norm(sums, axis=1)
    unit = (sums / np.maximum(norm, 1e-300)[:, None]).astype(np.float32)
    count = prev.count + np.bincount(user[usable], minlength=n_users)
    return Folded(unit, norm, ref, weight, count.astype(np.int64))


def event_coefficients(
    n_users: int, user: np.ndarray, ts_s: np.ndarray, type_w: np.ndarray, weighting: Weighting
) -> np.ndarray:
    """Each event's weight in its user's vector, decayed from the user's latest event.

    The same coefficients :func:`fold` applies when it folds everything at once; the
    user space is fitted with them, so co-engagement follows current interests.
    """
    latest = np.full(n_users, -np.inf)
    np.maximum.at(latest, user, ts_s)
    return np.asarray(type_w, np.float64) * weighting.decay(latest[user] - ts_s)


def empty_folded(n: int, dim: int) -> Folded:
    return Folded(
        np.zeros((n, dim), np.float32),
        np.zeros(n),
        np.zeros(n),
        np.zeros(n),
        np.zeros(n, np.int64),
    )


class UserState:
    """Running-sum bookkeeping per slot (the unit vectors live in the FAISS index)."""

    def __init__(self, norm=None, ref=None, weight=None, count=None) -> None:
        # copies: arrays read from Parquet can be read-only views of Arrow buffers
        self.norm = np.array(norm if norm is not None else [], np.float64)
        self.ref = np.array(ref if ref is not None else [], np.float64)
        self.weight = np.array(weight if weight is not None else [], np.float64)
        self.count = np.array(count if count is not None else [], np.int64)

    def _grow(self, n: int) -> None:
        """Capacity doubles, so inserting users one batch at a time stays amortised O(1)."""
        if n <= len(self.norm):
            return
        cap = max(n, 2 * len(self.norm), 1024)
        for name in ("norm", "ref", "weight", "count"):
            old = getattr(self, name)
            grown = np.zeros(cap, old.dtype)
            grown[: len(old)] = old
            setattr(self, name, grown)

    def gather(self, slots: np.ndarray, unit: np.ndarray) -> Folded:
        """The state of ``slots`` (-1: a user never seen) with their current unit vectors."""
        known = slots >= 0
        out = empty_folded(len(slots), unit.shape[1] if unit.ndim == 2 else 0)
        take = slots[known]
        out.unit[known] = unit
        out.norm[known], out.ref[known] = self.norm[take], self.ref[take]
        out.weight[known], out.count[known] = self.weight[take], self.count[take]
        return out

    def scatter(self, slots: np.ndarray, folded: Folded, rows: np.ndarray) -> None:
        """Store ``folded``'s ``rows`` at ``slots`` (growing the arrays as slots appear)."""
        if len(slots) == 0:
            return
        self._grow(int(slots.max()) + 1)
        self.norm[slots], self.ref[slots] = folded.norm[rows], folded.ref[rows]
        self.weight[slots], self.count[slots] = folded.weight[rows], folded.count[rows]
