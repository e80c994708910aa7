"""The FAISS index of user vectors: exact below a size threshold, IVF above, updated in place.

One index type covers both regimes: ``IndexIVFFlat`` over inner product (vectors are
unit length, so scores are cosine similarities), with a direct map of type ``Array``.
Below ``exact_below`` users it has a single inverted list, which a search scans in
full: an exact search. Above, it is retrained with about sqrt(n) lists and searches
``nprobe`` of them (the bench measures recall@5 against exact search). The direct map
makes FAISS ids equal to slots (0, 1, 2, ... in insertion order), so:

* a new user is ``add`` (its id is the next slot), an updated one is
  ``update_vectors`` (reassigned to its new list, no hole left behind), and
* a user's vector is read back with ``reconstruct``, so the index is the only copy.

Concurrency: searches share a readers-writer lock; a mutation takes it exclusively,
for the FAISS call only. Writers are serialised by a second lock. When the index must
be retrained (the threshold is crossed, or it grew 4x since its lists were trained),
the new index is built from a copy while searches go on against the old one, then
swapped in; writers wait for that build.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from adseed.audience.rwlock import RWLock
from adseed.errors import InvalidInput, StateError

RETRAIN_GROWTH = 4  # retrain the lists once the index holds this many times its training size
TRAIN_PER_LIST = 40  # training points per list (FAISS warns below 39)
MIN_LISTS, MAX_LISTS = 16, 4096


def nlist_for(n: int) -> int:
    """About sqrt(n) lists, a power of two: 128 at 20k users, 256 at 100k, 1024 at 1M."""
    power = round(math.log2(max(math.sqrt(max(n, 1)), 1.0)))
    return int(min(max(2**power, MIN_LISTS), MAX_LISTS))


def _faiss():
    import faiss

    return faiss


def exact_index(dim: int):
    """An IVF index with one list: every search scans every vector (exact)."""
    faiss = _faiss()
    quantizer = faiss.IndexFlatIP(dim)
    quantizer.add(np.zeros((1, dim), np.float32))
    index = faiss.IndexIVFFlat(quantizer, dim, 1, faiss.METRIC_INNER_PRODUCT)
    index.is_trained = True
    index.set_direct_map_type(faiss.DirectMap.Array)
    return index


def ann_index(vectors: np.ndarray, nlist: int, seed: int = 0):
    """An IVF index whose lists are trained (spherical k-means) on a sample of ``vectors``."""
    faiss = _faiss()
    dim = vectors.shape[1]
    quantizer = faiss.IndexFlatIP(dim)
    index = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
    index.cp.spherical = True
    index.cp.seed = seed
    index.cp.min_points_per_centroid = 1  # small indexes: fewer points per list is expected
    sample = vectors
    if len(vectors) > nlist * TRAIN_PER_LIST:
        rng = np.random.default_rng(seed)
        sample = vectors[np.sort(rng.choice(len(vectors), nlist * TRAIN_PER_LIST, replace=False))]
    index.train(np.ascontiguousarray(sample, dtype=np.float32))
    index.set_direct_map_type(faiss.DirectMap.Array)
    return index


class UserIndex:
    """User ids ↔ slots, and their unit vectors in a FAISS index, safe under concurrency."""

    def __init__(self, dim: int, exact_below: int, nprobe: int, seed: int = 0) -> None:
        if dim < 1 or exact_below < 1 or nprobe < 1:
            raise InvalidInput("dim, exact_below and nprobe must be positive")
        self.dim, self.exact_below, self.nprobe, self.seed = dim, exact_below, nprobe, seed
        self.ids: list[str] = []
        self._slot_of: dict[str, int] = {}
        self._index = exact_index(dim)
        self._trained_at = 0  # users when the ANN lists were trained; 0 while exact
        self._rw = RWLock()
        self._writer = threading.Lock()

    # -- reading ---------------------------------------------------------------------

    def __len__(self) -> int:
        return int(self._index.ntotal)

    @property
    def kind(self) -> str:
        return "exact" if self._index.nlist == 1 else f"IVF{self._index.nlist}"

    @property
    def trained_at(self) -> int:
        return self._trained_at

    def slot(self, user_id: str) -> int | None:
        return self._slot_of.get(user_id)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` (scores, slots) per query; slots are -1 where fewer than k users exist."""
        q = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        if q.shape[1] != self.dim:
            raise InvalidInput(f"query has dimension {q.shape[1]}, the index {self.dim}")
        with self._rw.read():
            index = self._index
            params = _faiss().SearchParametersIVF(nprobe=min(self.nprobe, index.nlist))
            scores, slots = index.search(q, k, params=params)
        return scores, slots

    def vectors(self, slots: Sequence[int] | np.ndarray) -> np.ndarray:
        """The stored unit vectors of ``slots`` (copies)."""
        ids = np.asarray(slots, dtype=np.int64)
        if ids.size == 0:
            return np.zeros((0, self.dim), np.float32)
        with self._rw.read():
            if ids.min() < 0 or ids.max() >= self._index.ntotal:
                raise StateError("slot outside the index")
            return self._index.reconstruct_batch(ids)

    def all_vectors(self) -> np.ndarray:
        with self._rw.read():
            n = int(self._index.ntotal)
            return self._index.reconstruct_n(0, n) if n else np.zeros((0, self.dim), np.float32)

    # -- writing ---------------------------------------------------------------------

    def upsert(self, user_ids: Sequence[str], vectors: np.ndarray) -> tuple[int, int]:
        """Insert new users and replace the vectors of known ones; returns (added, updated).

        Within one call a user id must appear once. The new slots are published to
        :meth:`slot` only after FAISS holds their vectors, so a concurrent reader never
        sees a slot it cannot read.
        """
        x = np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1, self.dim)
        if len(user_ids) != len(x) or len(set(user_ids)) != len(user_ids):
            raise InvalidInput("upsert needs one vector per user and each user once")
        with self._writer:
            known = np.array([self._slot_of.get(u, -1) for u in user_ids], dtype=np.int64)
            old, new = known >= 0, known < 0
            fresh = [u for u, is_new in zip(user_ids, new, strict=True) if is_new]
            first = len(self.ids)
            self.ids.extend(fresh)  # before the add: search results map slots via ids
            lists = self._assign(x)  # the costly part, done while searches go on
            with self._rw.write():
                if old.any():
                    self._update(known[old], x[old], lists[old])
                if new.any():
                    self._add(x[new], lists[new])
            self._slot_of.update({u: first + i for i, u in enumerate(fresh)})
            self._maybe_retrain()
        return int(new.sum()), int(old.sum())

    def _assign(self, x: np.ndarray) -> np.ndarray:
        """Each vector's inverted list. Reads only the quantizer (safe beside searches);
        ``update_vectors``/``add`` would do this inside the exclusive lock, where at 1M
        users it made searches wait ~10 ms per 1,000-user batch."""
        _, lists = self._index.quantizer.search(x, 1)
        return np.ascontiguousarray(lists[:, 0], dtype=np.int64)

    def _update(self, slots: np.ndarray, x: np.ndarray, lists: np.ndarray) -> None:
        """``IndexIVF.update_vectors`` with the lists precomputed (same FAISS calls)."""
        faiss = _faiss()
        index, x = self._index, np.ascontiguousarray(x, dtype=np.float32)
        slots, lists = np.ascontiguousarray(slots), np.ascontiguousarray(lists)
        codes = np.empty((len(x), index.code_size), dtype=np.uint8)
        index.encode_vectors(
            len(x), faiss.swig_ptr(x), faiss.swig_ptr(lists), faiss.swig_ptr(codes)
        )
        index.direct_map.update_codes(
            index.invlists,
            len(x),
            faiss.swig_ptr(slots),
            faiss.swig_ptr(lists),
            faiss.swig_ptr(codes),
        )

    def _add(self, x: np.ndarray, lists: np.ndarray) -> None:
        """``IndexIVF.add`` with the lists precomputed; ids are the next slots."""
        faiss = _faiss()
        x, lists = np.ascontiguousarray(x, dtype=np.float32), np.ascontiguousarray(lists)
        self._index.add_core(len(x), faiss.swig_ptr(x), None, faiss.swig_ptr(lists))

    def _needs_retrain(self, n: int) -> bool:
        if self._trained_at == 0:
            return n >= self.exact_below
        return n >= RETRAIN_GROWTH * self._trained_at

    def _maybe_retrain(self) -> None:
        """Build the replacement outside the exclusive lock, then swap it in."""
        n = len(self)
        if not self._needs_retrain(n):
            return
        fresh = self._build(self.all_vectors())
        with self._rw.write():
            self._index = fresh
        self._trained_at = n

    def _build(self, vectors: np.ndarray):
        n = len(vectors)
        index = (
            exact_index(self.dim)
            if n < self.exact_below
            else ann_index(vectors, nlist_for(n), self.seed)
        )
        if n:
            index.add(np.ascontiguousarray(vectors, dtype=np.float32))
        return index

    @classmethod
    def bulk(
        cls,
        user_ids: Sequence[str],
        vectors: np.ndarray,
        exact_below: int,
        nprobe: int,
        seed: int = 0,
    ) -> UserIndex:
        """A whole index at once (rebuilds, benches): lists trained once on all vectors."""
        x = np.ascontiguousarray(vectors, dtype=np.float32)
        self = cls(x.shape[1], exact_below, nprobe, seed)
        if len(set(user_ids)) != len(user_ids) or len(user_ids) != len(x):
            raise InvalidInput("bulk needs one vector per user and each user once")
        self.ids = list(user_ids)
        self._index = self._build(x)
        self._trained_at = 0 if len(x) < exact_below else len(x)
        self._slot_of = {u: i for i, u in enumerate(self.ids)}
        return self

    # -- persistence -----------------------------------------------------------------

    def write(self, path: Path) -> None:
        """Serialise the FAISS index to ``path`` (callers make the folder swap atomic)."""
        with self._rw.read():
            _faiss().write_index(self._index, os.fspath(path))

    @classmethod
    def read(
        cls, path: Path, user_ids: list[str], trained_at: int, exact_below: int, nprobe: int
    ) -> UserIndex:
        index = _faiss().read_index(os.fspath(path))
        if index.ntotal != len(user_ids) or not hasattr(index, "nlist"):
            raise StateError(f"{path}: {index.ntotal} vectors for {len(user_ids)} users")
        self = cls(index.d, exact_below, nprobe)
        self.ids = list(user_ids)
        self._slot_of = {u: i for i, u in enumerate(self.ids)}
        self._index = index
        self._trained_at = trained_at
        return self
