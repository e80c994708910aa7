"""A seeded generator of behaviour events whose hidden user interests are known.

Every simulated user has one main interest: a group of items of a volume (a breed,
a species in a setting, ...). The groups come from the items themselves:

* ``name``: the file name without its trailing number (``Abyssinian_101.jpg`` →
  ``abyssinian``), how photo catalogues such as Oxford-IIIT Pet are named;
* ``tag:KEY``: the value of an ingest tag (``adseed ingest --tag breed=beagle``);
* ``cluster``: k-means on the items' embeddings, for volumes with neither;
* ``auto``: ``name`` when it yields at least two groups covering half the items,
  else ``cluster``.

Users browse like people do: a share ``focus`` of their events are on their interest,
the rest on any item; views dominate, clicks and purchases concentrate on what they
care about; events spread over ``days``. A share ``drift`` of users changed interest
halfway: their older events are on another group, so only a time-decayed vector
finds their current one. The same seed, volume and end time give the same events.

Two knobs make the behaviour closer to real logs (both off by default, so the
default audience, on which the figures in the README are measured, stays the same):
``activity="heavy"`` draws each user's event count from a log-normal (sigma 1) with
the same mean, so many users have a handful of events and a few have hundreds; and
``item_popularity=s`` gives items Zipf popularity 1/rank^s, which every pick follows
(on-interest and off-interest alike), so browsing concentrates on bestsellers.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import PurePosixPath
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from adseed.audience.schema import EVENT_TYPES, EVENTS
from adseed.errors import InvalidInput, NotFound
from adseed.storage.volumes import VolumeRef

if TYPE_CHECKING:
    from adseed.audience.vectors import ItemCatalog
    from adseed.storage.tables import Tables

MIN_GROUP = 2  # items an interest needs
TYPE_P_FOCUS = (0.70, 0.22, 0.08)  # view, click, purchase on the user's own interest
TYPE_P_NOISE = (0.92, 0.07, 0.01)  # ... and on anything else
_TRAILING_NUMBER = re.compile(r"[\s_.-]*\(?\d+\)?$")


@dataclass(frozen=True)
class SimulationSpec:
    users: int
    volume: str
    seed: int = 0
    events_per_user: float = 20.0
    days: float = 60.0
    focus: float = 0.8
    drift: float = 0.2
    interest_by: str = "auto"
    interests: int = 0  # for "cluster": how many groups (0: about sqrt(items / 2))
    activity: str = "poisson"  # events per user: poisson (narrow) or heavy (log-normal)
    item_popularity: float = 0.0  # Zipf exponent of item popularity (0: uniform)
    end: datetime | None = None  # default: today 00:00 UTC

    def check(self) -> None:
        if not 1 <= self.users <= 10_000_000:
            raise InvalidInput(f"users must be from 1 to 10,000,000, got {self.users}")
        if not 1 <= self.events_per_user <= 10_000 or not 0 < self.days <= 36_500:
            raise InvalidInput("events per user must be 1 to 10,000 and days 0 to 36,500")
        if not 0 <= self.focus <= 1 or not 0 <= self.drift <= 1:
            raise InvalidInput("focus and drift are shares: give them from 0 to 1")
        if self.activity not in ("poisson", "heavy") or not 0 <= self.item_popularity <= 3:
            raise InvalidInput("activity is poisson or heavy; item popularity is from 0 to 3")
        VolumeRef.parse(self.volume)


@dataclass(frozen=True)
class Simulation:
    events: pa.Table  # user_id, item, event, ts
    truth: dict[str, str]  # user id → current main interest
    groups: dict[str, list[str]]  # interest → its items (volume paths)
    grouping: str  # how the groups were made: name, tag:KEY or cluster


def group_items(
    tables: Tables, spec: SimulationSpec, catalog: ItemCatalog | None
) -> tuple[dict[str, list[str]], str]:
    """The volume's items grouped into interests, and which rule made the groups."""
    ref = VolumeRef.parse(spec.volume)
    assets = tables.read(
        "assets", columns=["path", "source_name", "tags"], filters=[("volume", "=", ref.full_name)]
    ).sort_by("path")
    if assets.num_rows == 0:
        raise NotFound(f"volume {ref.full_name} has no assets: ingest photos into it first")
    rows = assets.to_pylist()
    rule = spec.interest_by
    if rule in ("auto", "name"):
        groups = _keep(_by_name(rows))
        covered = sum(len(v) for v in groups.values())
        if rule == "name" or (len(groups) >= 2 and covered * 2 >= len(rows)):
            return groups, "name"
        rule = "cluster"
    if rule.startswith("tag:") and len(rule) > 4:
        key = rule[4:]
        groups = _keep(_grouped((r["path"], dict(r["tags"] or []).get(key)) for r in rows))
        return groups, rule
    if rule == "cluster":
        return _by_cluster([r["path"] for r in rows], catalog, spec), "cluster"
    raise InvalidInput(f"unknown --interest-by {spec.interest_by!r}: auto, name, tag:KEY, cluster")


def _by_name(rows: list[dict]) -> dict[str, list[str]]:
    def key(row: dict) -> str:
        stem = PurePosixPath(row["source_name"] or row["path"]).stem
        return _TRAILING_NUMBER.sub("", stem).strip().lower() or stem.lower()

    return _grouped((r["path"], key(r)) for r in rows)


def _grouped(pairs) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for path, group in pairs:
        if group:
            out.setdefault(str(group), []).append(path)
    return out


def _keep(groups: dict[str, list[str]]) -> dict[str, list[str]]:
    return {g: sorted(items) for g, items in sorted(groups.items()) if len(items) >= MIN_GROUP}


def _by_cluster(
    paths: list[str], catalog: ItemCatalog | None, spec: SimulationSpec
) -> dict[str, list[str]]:
    import faiss

    if catalog is None:
        raise InvalidInput("--interest-by cluster needs the items' embeddings: run 'adseed embed'")
    rows = [catalog.row[p] for p in paths if p in catalog.row]
    k = spec.interests or max(2, round(math.sqrt(len(rows) / 2)))
    if len(rows) < 2 * k:
        raise InvalidInput(f"{len(rows)} embedded items cannot make {k} interests of 2 or more")
    x = catalog.matrix[rows]
    kmeans = faiss.Kmeans(
        x.shape[1], k, niter=25, seed=spec.seed, spherical=True, min_points_per_centroid=1
    )
    kmeans.train(x)
    _, assign = kmeans.index.search(x, 1)
    labels = [f"cluster-{a:03d}" for a in assign[:, 0]]
    return _keep(_grouped(zip([catalog.paths[r] for r in rows], labels, strict=True)))


def simulate(
    tables: Tables, spec: SimulationSpec, catalog: ItemCatalog | None = None
) -> Simulation:
    """Generate the events of ``spec.users`` users; nothing is written anywhere."""
    spec.check()
    groups, grouping = group_items(tables, spec, catalog)
    if len(groups) < 2:
        raise InvalidInput(f"{spec.volume}: found {len(groups)} interest group(s), need 2 or more")
    names = list(groups)
    rng = np.random.default_rng(spec.seed)
    popularity = 1.0 / np.sqrt(1.0 + rng.permutation(len(names)))
    interest = rng.choice(len(names), spec.users, p=popularity / popularity.sum())
    earlier = (interest + rng.integers(1, len(names), spec.users)) % len(names)
    drifted = rng.random(spec.users) < spec.drift
    counts = _activity(spec, rng)
    user = np.repeat(np.arange(spec.users), counts)
    age = rng.random(len(user)) * spec.days  # days before the end
    group = np.where(drifted[user] & (age > spec.days / 2), earlier[user], interest[user])
    focused = rng.random(len(user)) < spec.focus
    items, item_of = _pick(groups, names, group, focused, rng, spec.item_popularity)
    on_interest = item_of == group
    p = np.where(on_interest[:, None], TYPE_P_FOCUS, TYPE_P_NOISE).cumsum(axis=1)
    kind = (rng.random(len(user))[:, None] > p).sum(axis=1).clip(0, 2)
    end = spec.end or datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    end_us = (end.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
    ts = end_us - (age * 86_400e6).astype(np.int64)
    ids = [f"sim{spec.seed}-{i:07d}" for i in range(spec.users)]
    events = pa.table(
        {
            "user_id": pa.array(np.array(ids, dtype=object)[user].tolist(), pa.string()),
            "item": pa.array(items, pa.string()),
            "event": pa.array(np.array(EVENT_TYPES, dtype=object)[kind].tolist(), pa.string()),
            "ts": pa.array(ts, pa.int64()).cast(EVENTS.field("ts").type),
        }
    )
    truth = {ids[i]: names[g] for i, g in enumerate(interest)}
    return Simulation(events, truth, groups, grouping)


def _activity(spec: SimulationSpec, rng: np.random.Generator) -> np.ndarray:
    """Events per user, at least one, with mean ``events_per_user``."""
    extra = spec.events_per_user - 1
    if spec.activity == "poisson":
        return 1 + rng.poisson(extra, spec.users)
    sigma = 1.0  # log-normal: median about 0.6 x the mean, 1% of users above 5 x
    drawn = rng.lognormal(np.log(max(extra, 1e-9)) - sigma**2 / 2, sigma, spec.users)
    return 1 + np.round(drawn).astype(np.int64)


def _pick(
    groups: dict[str, list[str]],
    names: list[str],
    group: np.ndarray,
    focused: np.ndarray,
    rng: np.random.Generator,
    popularity: float = 0.0,
) -> tuple[list[str], np.ndarray]:
    """An item per event: from its group when focused, from all items otherwise."""
    flat = [p for g in names for p in groups[g]]
    sizes = np.array([len(groups[g]) for g in names])
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    owner = np.repeat(np.arange(len(names)), sizes)
    if popularity > 0:
        chosen = _pick_popular(starts, sizes, group, focused, rng, popularity)
        return [flat[i] for i in chosen], owner[chosen]
    within = starts[group] + (rng.random(len(group)) * sizes[group]).astype(np.int64)
    anywhere = rng.integers(0, len(flat), len(group))
    chosen = np.where(focused, within, anywhere)
    return [flat[i] for i in chosen], owner[chosen]


def _pick_popular(
    starts: np.ndarray,
    sizes: np.ndarray,
    group: np.ndarray,
    focused: np.ndarray,
    rng: np.random.Generator,
    popularity: float,
) -> np.ndarray:
    """Picks weighted by item popularity 1/rank^s (ranks shuffled across all items)."""
    n = int(sizes.sum())
    weight = 1.0 / (1.0 + rng.permutation(n)) ** popularity
    cum = np.cumsum(weight)
    before = np.concatenate([[0.0], cum])[starts]  # weight of the items ahead of each group
    in_group = cum[starts + sizes - 1] - before
    u = rng.random(len(group))
    target = np.where(focused, before[group] + u * in_group[group], u * cum[-1])
    return np.minimum(np.searchsorted(cum, target, side="right"), n - 1)
