"""User vectors: the decayed weighted mean, folded incrementally or all at once, same result."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from audience_helpers import catalogue

from adseed.audience import Audience
from adseed.audience.vectors import DAY, UserState, Weighting, fold
from adseed.config import resolve_settings
from adseed.errors import ConfigError
from adseed.workspace import Workspace

W = Weighting((1.0, 3.0, 10.0), half_life_s=7 * DAY)


def _random_events(rng, n_users=30, n_items=12, n_events=400):
    user = rng.integers(0, n_users, n_events)
    item = rng.integers(0, n_items, n_events)
    ts = rng.uniform(0, 90 * DAY, n_events) + 1.7e9
    tw = np.array(W.weights)[rng.integers(0, 3, n_events)]
    items = rng.standard_normal((n_items, 16)).astype(np.float32)
    items /= np.linalg.norm(items, axis=1, keepdims=True)
    return user, item, ts, tw, items


def test_fold_is_the_decayed_weighted_mean_by_definition() -> None:
    rng = np.random.default_rng(1)
    user, item, ts, tw, items = _random_events(rng)
    got = fold(30, user, item, ts, tw, items, W)
    for u in range(30):
        mine = user == u
        if not mine.any():
            continue
        ref = ts[mine].max()
        coef = tw[mine] * 0.5 ** ((ref - ts[mine]) / W.half_life_s)
        mean = (coef[:, None] * items[item[mine]]).sum(axis=0) / coef.sum()
        np.testing.assert_allclose(got.unit[u], mean / np.linalg.norm(mean), atol=1e-5)
        assert got.count[u] == mine.sum() and got.ref[u] == ref
        assert got.weight[u] == pytest.approx(coef.sum())


def test_folding_in_batches_out_of_order_equals_folding_at_once() -> None:
    rng = np.random.default_rng(2)
    user, item, ts, tw, items = _random_events(rng)
    whole = fold(30, user, item, ts, tw, items, W)
    state = None
    for part in np.array_split(rng.permutation(len(user)), 5):  # late events included
        state = fold(30, user[part], item[part], ts[part], tw[part], items, W, state)
    assert state is not None
    np.testing.assert_allclose(state.unit, whole.unit, atol=1e-5)
    np.testing.assert_allclose(state.weight, whole.weight, rtol=1e-5)
    assert (state.count == whole.count).all() and (state.ref == whole.ref).all()


def test_half_life_and_event_weights_shape_the_vector() -> None:
    items = np.eye(4, dtype=np.float32)
    t0 = 1.7e9
    # one user: old views of item 0, recent views of item 1
    user = np.zeros(4, np.int64)
    item = np.array([0, 0, 1, 1])
    ts = np.array([t0, t0, t0 + 60 * DAY, t0 + 60 * DAY])
    views = np.ones(4)
    decayed = fold(1, user, item, ts, views, items, W).unit[0]
    flat = fold(1, user, item, ts, views, items, Weighting(W.weights, 0.0)).unit[0]
    assert decayed[1] > 10 * decayed[0]  # 60 days = 8.6 half-lives
    assert flat[0] == pytest.approx(flat[1])  # no decay: equal
    # one purchase of item 2 outweighs three views of item 3, at the same time
    kinds = np.array([10.0, 1.0, 1.0, 1.0])
    same = fold(1, user, np.array([2, 3, 3, 3]), np.full(4, t0), kinds, items, W).unit[0]
    assert same[2] > same[3]


def test_events_on_items_without_a_vector_are_not_folded() -> None:
    items = np.eye(3, dtype=np.float32)
    got = fold(2, np.array([0, 1]), np.array([-1, 2]), np.array([1.0, 2.0]), np.ones(2), items, W)
    assert got.count.tolist() == [0, 1] and got.norm[0] == 0 and got.unit[1, 2] == 1


def test_weights_must_be_positive(tmp_path) -> None:
    bad = resolve_settings({"home": tmp_path, "audience_weight_click": -1}, env={})
    with pytest.raises(ConfigError, match="weights must be positive"):
        Weighting.from_settings(bad)
    env = {"ADSEED_AUDIENCE_HALF_LIFE_DAYS": "2.5"}
    assert resolve_settings({"home": tmp_path}, env=env).audience_half_life_days == 2.5


def _random_rows(rng, paths: list[str], n: int) -> list[dict]:
    start = datetime(2024, 1, 1, tzinfo=UTC)
    return [
        {
            "user_id": f"u{rng.integers(0, 12)}",
            "item": paths[rng.integers(0, len(paths))],
            "event": ["view", "click", "purchase"][rng.integers(0, 3)],
            "ts": start + timedelta(hours=float(rng.uniform(0, 24 * 60))),
        }
        for _ in range(n)
    ]


def _vectors(audience: Audience) -> dict[str, np.ndarray]:
    return {u: audience.index.vectors([audience.index.slot(u)])[0] for u in audience.index.ids}


def test_real_time_updates_and_a_rebuild_from_the_tables_agree(workspace, tmp_path) -> None:
    items = catalogue(workspace, tmp_path / "photos", per_interest=3)
    audience = Audience.open(workspace)
    rng = np.random.default_rng(3)
    paths = [p for ps in items.values() for p in ps]
    first = audience.record(_random_rows(rng, paths, 1200))  # enough to fit the space on
    assert first.refresh.rebuilt == "user space refitted on 1,200 events (was 0)"
    for _ in range(6):  # six real-time batches, shuffled times
        audience.record(_random_rows(rng, paths, 15))
    live = _vectors(audience)
    again = Audience.open(workspace)  # the saved space, then the change feed
    assert again.opened.rebuilt == "" and again.opened.events == 90
    assert (again.fitted_events, again.events_seen) == (1200, 1290)
    kept = Audience.open(workspace)
    kept.rebuild("test", refit=False)  # every vector from the tables, same space
    for other in (again, kept):
        assert sorted(other.index.ids) == sorted(live)
        for user, vector in live.items():
            got = other.index.vectors([other.index.slot(user)])[0]
            np.testing.assert_allclose(got, vector, atol=1e-5)
    kept.rebuild("test")  # refitted on all 1,290 events: the co-engagement moved a little
    assert kept.fitted_events == 1290
    moved = [np.abs(v - live[u]).max() for u, v in _vectors(kept).items()]
    assert 1e-4 < max(moved) < 0.5


def test_an_item_embedded_later_counts_after_the_next_refresh(workspace, tmp_path) -> None:
    items = catalogue(workspace, tmp_path / "photos", per_interest=2)
    from conftest import make_png

    extra = tmp_path / "later"
    extra.mkdir()
    (extra / "zebra_01.png").write_bytes(make_png("zebra savanna"))
    workspace.ingest([extra], "main.shop.items")  # in assets, not embedded yet
    audience = Audience.open(workspace)
    zebra = "/Volumes/main/shop/items/zebra_01.png"
    now = datetime.now(UTC)
    report = audience.record([{"user_id": "z", "item": zebra, "event": "view", "ts": now}])
    assert report.accepted == 1 and audience.index.slot("z") is None  # kept, not folded
    audience.record([{"user_id": "y", "item": items["horse"][0], "event": "view", "ts": now}])
    workspace.embed()
    again = Audience.open(workspace)
    assert again.opened.rebuilt == "the items' embeddings changed"
    assert again.index.slot("z") is not None and again.index.slot("y") is not None
    assert again.refresh().rebuilt == "" and Audience.open(workspace).opened.events == 0


def test_settings_reach_the_audience(tmp_path) -> None:
    settings = resolve_settings({"home": tmp_path / "ws", "embedder": "fake"}, env={})
    ws = Workspace.init(settings)
    assert Audience.open(ws).weighting.half_life_s == 30 * DAY


def test_user_state_accepts_read_only_arrays_and_grows() -> None:
    frozen = [np.zeros(2), np.zeros(2), np.zeros(2), np.zeros(2, np.int64)]
    for a in frozen:
        a.flags.writeable = False  # as Arrow hands out zero-copy views
    state = UserState(*frozen)
    folded = fold(
        3, np.arange(3), np.arange(3), np.ones(3), np.ones(3), np.eye(3, dtype=np.float32), W
    )
    state.scatter(np.array([1, 4, 2000]), folded, np.arange(3))
    state.scatter(np.array([], np.int64), folded, np.array([], np.int64))
    assert state.count[[1, 4, 2000]].tolist() == [1, 1, 1] and state.count[0] == 0
