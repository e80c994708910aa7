"""Text queries → top-k volume paths with cosine scores, from the embedder's own index table.

Only paths and scores come back: bytes never travel with search results, callers read
a file from its volume when (and if) they need it. Every query of one call goes
through a single ``embed_texts`` call and a single LanceDB query, because encoding
the text dominates latency and batches far better than it repeats.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from adseed.errors import InvalidInput, StateError
from adseed.index.store import MAX_K, where_sql

if TYPE_CHECKING:
    from adseed.embed.base import Embedder
    from adseed.index.store import VectorIndex


@dataclass(frozen=True)
class Hit:
    """One retrieved asset: its volume path and cosine similarity (higher is better)."""

    path: str
    score: float


@dataclass(frozen=True)
class SearchResult:
    """The hits of one query, best first."""

    query: str
    hits: list[Hit] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The wire shape shared by the CLI's ``--json`` and the serving endpoints."""
        return {
            "query": self.query,
            "hits": [{"path": h.path, "score": round(h.score, 4)} for h in self.hits],
        }


def search(
    index: VectorIndex,
    embedder: Embedder,
    queries: Sequence[str],
    k: int,
    kind: str | None = None,
    volumes: Sequence[str] | None = None,
) -> list[SearchResult]:
    """Embed ``queries`` once, search the table of ``embedder.model_id``, one result each.

    Checks run before the embedder is touched, so a bad request or a missing index
    fails fast without loading model weights. ``volumes`` (when given) limits hits to
    those volumes: governance passes the ones the caller may read.
    """
    texts = _check_queries(queries)
    _check_k(k)
    if kind is not None and (not isinstance(kind, str) or not kind.strip()):
        raise InvalidInput(f"invalid kind filter {kind!r}")
    if index.table(embedder.model_id) is None:
        raise StateError(
            f"no vector index for embedder model {embedder.model_id!r} yet: "
            "run 'adseed embed' and then 'adseed index sync'"
        )
    vectors = np.asarray(embedder.embed_texts(texts), dtype=np.float32)
    if vectors.shape[0] != len(texts):
        raise StateError(f"embedder returned {vectors.shape[0]} vectors for {len(texts)} texts")
    blank = np.flatnonzero(~(np.linalg.norm(vectors, axis=1) > 1e-12))
    if blank.size:
        raise InvalidInput(f"query {texts[blank[0]]!r} has nothing the embedder can use")
    where = where_sql(kind=kind, volumes=volumes)
    found = index.search(embedder.model_id, vectors, k, where=where)
    return [
        SearchResult(text, [Hit(path, score) for path, score in hits])
        for text, hits in zip(texts, found, strict=True)
    ]


def _check_queries(queries: Sequence[str]) -> list[str]:
    if isinstance(queries, str):  # a lone string would otherwise search per character
        queries = [queries]
    texts = list(queries)
    if not texts:
        raise InvalidInput("no query given: pass at least one non-empty text")
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise InvalidInput(f"query {i} is {type(text).__name__}, not text")
        if not text.strip():
            raise InvalidInput(f"query {i} is empty: describe what to look for")
    return texts


def _check_k(k: int) -> None:
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or not 1 <= k <= MAX_K:
        raise InvalidInput(f"k must be a whole number from 1 to {MAX_K}, got {k!r}")
