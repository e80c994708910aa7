"""How well user vectors recover known interests: lookalike precision@k and adjusted Rand index.

Both need ground truth, which only a simulated audience has
(:mod:`adseed.audience.simulate`). Tests and ``bench/audience.py`` use them; the
adjusted Rand index is computed here (from the contingency table, Hubert & Arabie
1985) so the package needs no scikit-learn at run time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from adseed.audience.segments import SegmentRun
    from adseed.audience.service import Audience


def _shares(
    audience: Audience, truth: Mapping[str, str], k: int, sample: int, seed: int
) -> list[tuple[str, float]]:
    """(hidden interest, share of its k lookalikes sharing it) for sampled users."""
    users = sorted(u for u in truth if audience.index.slot(u) is not None)
    rng = np.random.default_rng(seed)
    picked = [users[i] for i in rng.choice(len(users), min(sample, len(users)), replace=False)]
    out = []
    for user in picked:
        found = audience.similar(user, k)
        out.append((truth[user], sum(truth.get(m.user_id) == truth[user] for m in found) / k))
    return out


def lookalike_precision(
    audience: Audience, truth: Mapping[str, str], k: int = 5, sample: int = 500, seed: int = 0
) -> float:
    """Mean share of each sampled user's ``k`` lookalikes that share its hidden interest."""
    shares = _shares(audience, truth, k, sample, seed)
    return float(np.mean([s for _, s in shares])) if shares else 0.0


def precision_by_interest(
    audience: Audience, truth: Mapping[str, str], k: int = 5, sample: int = 500, seed: int = 0
) -> dict[str, float]:
    """Lookalike precision@k per hidden interest: where the embedder cannot tell apart."""
    groups: dict[str, list[float]] = {}
    for interest, share in _shares(audience, truth, k, sample, seed):
        groups.setdefault(interest, []).append(share)
    return {interest: float(np.mean(v)) for interest, v in sorted(groups.items())}


def _comb2(x: np.ndarray) -> Any:
    return (x * (x - 1) / 2.0).sum()


def adjusted_rand_index(a: Sequence[Any], b: Sequence[Any]) -> float:
    """Agreement of two labelings of the same items: 1 identical, about 0 for chance."""
    if len(a) != len(b):
        raise ValueError("both labelings must cover the same items")
    n = len(a)
    if n < 2:
        return 1.0
    _, ia = np.unique(np.asarray(a, dtype=object).astype(str), return_inverse=True)
    _, ib = np.unique(np.asarray(b, dtype=object).astype(str), return_inverse=True)
    table = np.zeros((ia.max() + 1, ib.max() + 1), dtype=np.float64)
    np.add.at(table, (ia, ib), 1)
    index = _comb2(table)
    rows, cols = _comb2(table.sum(axis=1)), _comb2(table.sum(axis=0))
    expected = rows * cols / (n * (n - 1) / 2.0)
    maximum = (rows + cols) / 2.0
    if maximum == expected:
        return 1.0
    return float((index - expected) / (maximum - expected))


def segment_agreement(run: SegmentRun, truth: Mapping[str, str]) -> float:
    """ARI between a segment run's clusters and the hidden interests of its users."""
    pairs = [
        (truth[u], int(lab)) for u, lab in zip(run.user_ids, run.labels, strict=True) if u in truth
    ]
    if not pairs:
        return 0.0
    hidden, found = zip(*pairs, strict=True)
    return adjusted_rand_index(hidden, found)
