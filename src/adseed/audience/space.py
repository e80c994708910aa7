"""The user space: the item vectors users are folded from, fitted to the items and to behaviour.

User vectors used to be means of the raw item embeddings. Two corrections, each
measured on simulated audiences (``bench/audience.py``), make them better at telling
interests apart, for lookalikes and for segments alike:

* **Co-engagement.** Each item's vector is blended with the mean vector of the items
  the same users engaged with (one propagation step on the item co-engagement graph,
  the way retrofitting pulls word vectors towards their neighbours in a lexicon,
  Faruqui et al. 2015). ConSE maps Birman and Siamese photos, or Egyptian Mau and
  Abyssinian ones, to almost the same point; the people who browse one rarely browse
  the other, so behaviour separates what pixels alone cannot. Items nobody engaged
  with keep their embedding.
* **Centring.** The mean item vector is subtracted. ConSE vectors share a large
  common component (any two users' raw vectors had a cosine near 0.99), which makes
  cosine rankings depend on how far a user strays from the mean rather than where.
  Texts are centred on the mean *text* vector instead (the built-in segment-naming
  candidates): texts and images sit apart in a shared space (the "modality gap",
  Liang et al. 2022), and removing each modality's own mean keeps text matches
  working (centring texts on the item mean lost cat-lovers for "people who love cats").

Both are per-item and linear, so a user's running sum over transformed items *is*
the transformed user: real-time folding stays exact and incremental. The transformed
items are saved with the index and refitted only on a rebuild (see ``Audience``).
"""

from __future__ import annotations

import numpy as np

from adseed.audience.vectors import ItemCatalog
from adseed.errors import ConfigError

MAX_PAIRS = 20_000_000  # co-engagement pairs a fit may expand; beyond, users are sampled
REFIT_GROWTH = 2  # refit once the events table holds this many times the events fitted on
REFIT_MIN_EVENTS = 1_000  # ... and at least this many more (tiny tables: no churn)


def check_coengagement(alpha: float) -> float:
    if not np.isfinite(alpha) or not 0.0 <= alpha < 1.0:
        raise ConfigError(
            f"audience_coengagement must be from 0 (embeddings only) to below 1, got {alpha}"
        )
    return float(alpha)


def fit_items(
    raw: ItemCatalog,
    user: np.ndarray,
    item_row: np.ndarray,
    coef: np.ndarray,
    alpha: float,
    seed: int = 0,
) -> ItemCatalog:
    """The user-space item vectors: blended with co-engaged items by ``alpha``, centred.

    ``user``, ``item_row`` and ``coef`` describe events (user index, catalogue row,
    decayed type weight); rows of -1 are events on items without a vector.
    """
    x = raw.matrix.astype(np.float64)
    if len(x) == 0:
        return ItemCatalog([], raw.matrix)
    if alpha > 0:
        x = _blend(x, user, item_row, coef, alpha, seed)
    return ItemCatalog(raw.paths, (x - x.mean(axis=0)).astype(np.float32))


def _blend(
    x: np.ndarray,
    user: np.ndarray,
    item_row: np.ndarray,
    coef: np.ndarray,
    alpha: float,
    seed: int,
) -> np.ndarray:
    """(1 - alpha) x_i + alpha * mean of x_j over items j co-engaged with i, renormalised.

    Co-engagement C_ij = sum over users of w_ui * w_uj / W_u: each user spreads one
    unit of weight, so a heavy user does not count quadratically.
    """
    from scipy.sparse import csr_matrix

    ok = item_row >= 0
    user, item_row, coef = user[ok], item_row[ok], coef[ok]
    if user.size == 0:
        return x
    n_users = int(user.max()) + 1
    weights = csr_matrix((coef, (user, item_row)), shape=(n_users, len(x)))
    weights.sum_duplicates()
    weights = _sample_users(weights, seed)
    totals = np.asarray(weights.sum(axis=1)).ravel()
    share = csr_matrix(weights.multiply(1.0 / np.maximum(totals, 1e-300)[:, None]))
    co = (weights.T @ share).tocsr()
    co.setdiag(0.0)
    co.eliminate_zeros()
    mass = np.asarray(co.sum(axis=1)).ravel()
    neighbours = np.asarray(co @ x) / np.maximum(mass, 1e-300)[:, None]
    blended = np.where((mass > 0)[:, None], (1 - alpha) * x + alpha * neighbours, x)
    norms = np.linalg.norm(blended, axis=1, keepdims=True)
    return blended / np.maximum(norms, 1e-12)


def _sample_users(weights, seed: int):
    """At most about MAX_PAIRS item pairs: a seeded sample of users when there are more."""
    per_user = np.diff(weights.indptr).astype(np.float64)
    pairs = float((per_user**2).sum())
    if pairs <= MAX_PAIRS:
        return weights
    keep = np.random.default_rng(seed).random(weights.shape[0]) < MAX_PAIRS / pairs
    return weights[np.flatnonzero(keep)]


def refit_due(alpha: float, fitted_events: int, events: int) -> bool:
    """Whether the events table outgrew the behaviour the space was fitted on.

    Doubling keeps the total refit work linear in the events (each refit reads them
    all once), like the 4x growth rule for retraining the IVF lists.
    """
    if alpha <= 0:
        return False  # centring alone depends on the items only
    grown = events >= REFIT_GROWTH * fitted_events
    return grown and events - fitted_events >= REFIT_MIN_EVENTS


def centre_texts(vectors: np.ndarray, text_mean: np.ndarray) -> np.ndarray:
    """Text vectors in the user space: minus the mean text vector, unit length."""
    v = np.asarray(vectors, dtype=np.float32) - text_mean.astype(np.float32)
    return v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)
