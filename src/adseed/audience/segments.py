"""Segments discovered from user vectors (k-means), described in words, stored in Delta.

Each run clusters every user vector with spherical k-means (``faiss.Kmeans``, several
restarts, the best objective kept), names each cluster from the candidate texts
nearest its centroid (:mod:`adseed.audience.vocabulary`; texts and centroids are
compared in the user space of :mod:`adseed.audience.space`, where the stored
centroids live too), and writes its members to ``segment_members`` and then its
segments to ``segments``. Segment ids are
``r<run>s<n>``, largest segment first (``r3s0``), and never reused.

:func:`segment_text` is the hand-off to the creative flow: the text a segment id
stands for, ready to embed as the query of ``adseed generate --segment-id ID``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from adseed.audience.schema import SEGMENT_MEMBERS, SEGMENTS
from adseed.audience.vocabulary import Vocabulary, describe, load_vocabulary
from adseed.errors import InvalidInput, NotFound, StateError

if TYPE_CHECKING:
    from adseed.audience.service import Audience
    from adseed.storage.tables import Tables
    from adseed.workspace import Workspace

KMEANS_NITER = 25
KMEANS_REDO = 10  # user space, by k-means seed: ARI 0.77-0.88 with 5 restarts, 0.81-0.88 with 10
MAX_PER_CENTROID = 256


@dataclass(frozen=True)
class Segment:
    segment_id: str
    description: str
    terms: list[str]
    size: int
    share: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "segment_id": self.segment_id,
            "description": self.description,
            "terms": self.terms,
            "size": self.size,
            "share": round(self.share, 4),
        }


@dataclass(frozen=True)
class SegmentRun:
    """One clustering: its segments, and every user's segment (aligned with ``user_ids``)."""

    run: int
    segments: list[Segment]
    user_ids: list[str]
    labels: np.ndarray  # segment index per user


def discover_segments(
    audience: Audience, k: int, seed: int = 0, vocabulary: Vocabulary | None = None
) -> SegmentRun:
    """Cluster the user vectors into ``k`` segments, name them and store the run.

    ``vocabulary`` replaces the built-in candidate descriptions (tests, other domains).
    """
    vectors = audience.index.all_vectors()
    n = len(vectors)
    if isinstance(k, bool) or not isinstance(k, int) or k < 2:
        raise InvalidInput(f"k must be a whole number of at least 2, got {k!r}")
    if n < k:
        raise StateError(f"only {n} users have a vector: cannot make {k} segments")
    centroids = spherical_kmeans(vectors, k, seed)
    scores, labels = _nearest(vectors, centroids)
    order = np.argsort(-np.bincount(labels, minlength=k), kind="stable")  # largest first
    rank = np.empty(k, np.int64)
    rank[order] = np.arange(k)
    labels, centroids = rank[labels], centroids[order]
    vocab = vocabulary or load_vocabulary(audience.embedder, audience.settings.cache_dir)
    vocab = replace(vocab, vectors=audience.texts_to_user_space(vocab.vectors))
    named = describe(centroids, vocab)
    run = _next_run(audience.tables)
    sizes = np.bincount(labels, minlength=k)
    segments = [
        Segment(f"r{run}s{i}", name, terms, int(sizes[i]), float(sizes[i] / n))
        for i, (name, terms) in enumerate(named)
    ]
    user_ids = audience.index.ids[:n]
    _write(audience.tables, run, segments, centroids, audience.model_id, user_ids, labels, scores)
    return SegmentRun(run, segments, user_ids, labels)


def spherical_kmeans(
    vectors: np.ndarray, k: int, seed: int = 0, restarts: int = KMEANS_REDO
) -> np.ndarray:
    """Unit centroids of ``k`` clusters: k-means++ seeding, then FAISS Lloyd iterations.

    FAISS seeds k-means with random points; on audiences whose interests differ in
    size, that split big interests and merged small ones (adjusted Rand index 0.59
    against 0.72 with k-means++ on the simulated pets audience, same run). Each of
    ``restarts`` runs is seeded afresh and the best objective wins. Training
    uses at most ``MAX_PER_CENTROID`` points per centroid, like FAISS's own default.
    """
    import faiss

    rng = np.random.default_rng(seed)
    x = np.ascontiguousarray(vectors, dtype=np.float32)
    if len(x) > k * MAX_PER_CENTROID:
        x = x[np.sort(rng.choice(len(x), k * MAX_PER_CENTROID, replace=False))]
    best, best_obj = None, -np.inf
    for attempt in range(restarts):
        kmeans = faiss.Kmeans(
            x.shape[1],
            k,
            niter=KMEANS_NITER,
            seed=seed + attempt,
            spherical=True,
            min_points_per_centroid=1,
            max_points_per_centroid=len(x),
        )
        kmeans.train(x, init_centroids=kmeans_plus_plus(x, k, rng))
        trace = np.asarray(kmeans.obj if kmeans.obj is not None else [], dtype=np.float64)
        objective = float(trace[-1]) if trace.size else -np.inf
        if objective > best_obj:
            best, best_obj = np.asarray(kmeans.centroids, dtype=np.float32), objective
    assert best is not None
    return best


def _nearest(vectors: np.ndarray, centroids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each vector's closest centroid and its cosine (FAISS: no n×k matrix in memory)."""
    import faiss

    flat = faiss.IndexFlatIP(centroids.shape[1])
    flat.add(np.ascontiguousarray(centroids, dtype=np.float32))
    scores, labels = flat.search(np.ascontiguousarray(vectors, dtype=np.float32), 1)
    return scores[:, 0], labels[:, 0].astype(np.int64)


def kmeans_plus_plus(x: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """Greedy k-means++ seeding (Arthur & Vassilvitskii 2007) on unit vectors."""
    trials = 2 + int(np.log(k))
    chosen = [int(rng.integers(len(x)))]
    dist = np.maximum(2.0 - 2.0 * (x @ x[chosen[0]]), 0.0)
    for _ in range(1, k):
        total = dist.sum()
        p = dist / total if total > 0 else None
        candidates = rng.choice(len(x), trials, p=p)
        with_each = np.minimum(dist[:, None], np.maximum(2.0 - 2.0 * (x @ x[candidates].T), 0.0))
        pick = int(np.argmin(with_each.sum(axis=0)))
        chosen.append(int(candidates[pick]))
        dist = with_each[:, pick]
    return np.ascontiguousarray(x[chosen], dtype=np.float32)


def _next_run(tables: Tables) -> int:
    runs = tables.read("segments", columns=["run"])["run"]
    return int(pc.max(runs).as_py() or 0) + 1 if len(runs) else 1


def _write(
    tables: Tables,
    run: int,
    segments: list[Segment],
    centroids: np.ndarray,
    model_id: str,
    user_ids: list[str],
    labels: np.ndarray,
    scores: np.ndarray,
) -> None:
    """Members first, segments last: a run shows up only once it is complete."""
    ids = [s.segment_id for s in segments]
    members = pa.table(
        {
            "segment_id": pa.array(np.array(ids, dtype=object)[labels].tolist(), pa.string()),
            "run": pa.array(np.full(len(user_ids), run), pa.int64()),
            "user_id": pa.array(user_ids, pa.string()),
            "score": pa.array(scores.astype(np.float32)),
        },
        schema=SEGMENT_MEMBERS,
    )
    tables.append("segment_members", members)
    tables.append("segments", _segment_rows(run, segments, centroids, model_id))


def _segment_rows(
    run: int, segments: list[Segment], centroids: np.ndarray, model_id: str
) -> pa.Table:
    k, dim = centroids.shape
    return pa.table(
        {
            "segment_id": [s.segment_id for s in segments],
            "run": [run] * k,
            "k": [k] * k,
            "description": [s.description for s in segments],
            "terms": [s.terms for s in segments],
            "size": [s.size for s in segments],
            "share": [s.share for s in segments],
            "model_id": [model_id] * k,
            "centroid": pa.ListArray.from_arrays(
                pa.array(np.arange(k + 1, dtype=np.int32) * dim),
                pa.array(np.ascontiguousarray(centroids, np.float32).ravel()),
            ),
            "created_at": pa.array([datetime.now(UTC)] * k, SEGMENTS.field("created_at").type),
        },
        schema=SEGMENTS,
    )


def list_segments(tables: Tables, run: int | None = None) -> list[Segment]:
    """The segments of ``run`` (default: the latest run), largest first."""
    if run is None:
        runs = tables.read("segments", columns=["run"])["run"]
        if not len(runs):
            return []
        run = int(pc.max(runs).as_py())
    rows = tables.read(
        "segments",
        columns=["segment_id", "description", "terms", "size", "share"],
        filters=[("run", "=", run)],
    ).sort_by([("size", "descending"), ("segment_id", "ascending")])
    return [Segment(**row) for row in rows.to_pylist()]


def segment_text(workspace: Workspace, segment_id: str) -> str:
    """The description of segment ``segment_id`` (e.g. ``"golden retriever, at the beach"``).

    This is the text the creative flow uses for a segment: ``adseed generate
    --segment-id r1s0`` embeds it as its query, exactly as if the marketer had typed it.
    It reads the ``segments`` table only (no index, no model), so it is cheap to call.
    Raises :class:`NotFound` for an id that no segment run produced.
    """
    if not isinstance(segment_id, str) or not segment_id.strip():
        raise InvalidInput("give a segment id, e.g. r1s0 (see 'adseed audience segments')")
    rows = workspace.tables.read(
        "segments", columns=["description"], filters=[("segment_id", "=", segment_id.strip())]
    )
    if rows.num_rows == 0:
        raise NotFound(
            f"no segment {segment_id!r}: list them with 'adseed audience segments' "
            "or make some with 'adseed audience segments --k N'"
        )
    return str(rows["description"][0].as_py())


def segment_members(tables: Tables, segment_id: str) -> list[str]:
    """The user ids of one segment, closest to its centroid first."""
    rows = tables.read(
        "segment_members", columns=["user_id", "score"], filters=[("segment_id", "=", segment_id)]
    ).sort_by([("score", "descending")])
    return rows["user_id"].to_pylist()
