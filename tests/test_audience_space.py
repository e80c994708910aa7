"""The user space: co-engagement blending and centring, fitted, saved and refitted."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import faiss
import numpy as np
import pytest
from audience_helpers import VOLUME, catalogue

from adseed.audience import Audience
from adseed.audience import space as space_module
from adseed.audience.simulate import SimulationSpec, simulate
from adseed.audience.space import check_coengagement, fit_items, refit_due
from adseed.audience.vectors import ItemCatalog, Weighting, fold
from adseed.errors import ConfigError, InvalidInput
from adseed.workspace import Workspace

FLAT = Weighting((1.0, 3.0, 10.0), 0.0)


def _noisy_interests(seed: int = 0, noise: float = 5.0):
    """6 interests of 12 items each: a shared component, a centre, and a lot of noise.

    300 users, 5 events each, 80% on their interest: too few for the noise to average
    out, which is where the embedder alone falls short on real photos.
    """
    rng = np.random.default_rng(seed)
    groups, per, users, dim = 6, 12, 300, 32
    centres = rng.standard_normal((groups, dim))
    shared = 4 * rng.standard_normal(dim)
    items = np.repeat(centres, per, axis=0) + noise * rng.standard_normal((groups * per, dim))
    items += shared
    items /= np.linalg.norm(items, axis=1, keepdims=True)
    interest = rng.integers(0, groups, users)
    user = np.repeat(np.arange(users), 5)
    own = interest[user] * per + rng.integers(0, per, len(user))
    item = np.where(rng.random(len(user)) < 0.8, own, rng.integers(0, groups * per, len(user)))
    catalog = ItemCatalog([f"i{i}" for i in range(len(items))], items.astype(np.float32))
    return catalog, user, item, interest


def _precision_at_5(x: np.ndarray, truth: np.ndarray) -> float:
    _, nearest = faiss.knn(np.ascontiguousarray(x), x, 6, metric=faiss.METRIC_INNER_PRODUCT)
    return float(
        np.mean(
            [
                np.mean(truth[[j for j in row if j != i][:5]] == truth[i])
                for i, row in enumerate(nearest)
            ]
        )
    )


def test_centring_and_co_engagement_each_make_lookalikes_better() -> None:
    catalog, user, item, truth = _noisy_interests()
    ts, weights = np.zeros(len(user)), np.ones(len(user))

    def users_from(matrix: np.ndarray) -> np.ndarray:
        return fold(len(truth), user, item, ts, weights, matrix, FLAT).unit

    raw = _precision_at_5(users_from(catalog.matrix), truth)
    centred = _precision_at_5(
        users_from(fit_items(catalog, user, item, weights, 0.0).matrix), truth
    )
    blended = _precision_at_5(
        users_from(fit_items(catalog, user, item, weights, 0.8).matrix), truth
    )
    assert raw < centred < blended, (raw, centred, blended)
    assert blended >= raw + 0.06 and blended >= 0.95, (raw, centred, blended)


def test_the_fit_centres_and_leaves_items_nobody_engaged_with_alone() -> None:
    catalog, user, item, _ = _noisy_interests(seed=1)
    weights = np.ones(len(user))
    plain = fit_items(catalog, user, item, weights, 0.0).matrix
    np.testing.assert_allclose(plain, catalog.matrix - catalog.matrix.mean(axis=0), atol=1e-6)
    cold = np.array([0, 13])  # nobody engages with these two
    item = np.where(np.isin(item, cold), 2, item)
    seen = np.unique(item)
    item_with_missing = np.where(np.arange(len(item)) % 7 == 0, -1, item)  # unembedded items
    fitted = fit_items(catalog, user, item_with_missing, weights, 0.8).matrix
    assert np.abs(fitted.mean(axis=0)).max() < 1e-5
    # blending moves engaged items only: the cold ones keep their offset to each other
    np.testing.assert_allclose(
        fitted[cold[0]] - fitted[cold[1]],
        catalog.matrix[cold[0]] - catalog.matrix[cold[1]],
        atol=1e-5,
    )
    moved = np.linalg.norm((fitted - plain)[seen], axis=1)
    assert moved.min() > 1e-3


def test_a_fit_over_many_users_samples_them_reproducibly(monkeypatch) -> None:
    catalog, user, item, truth = _noisy_interests(seed=2)
    weights = np.ones(len(user))
    full = fit_items(catalog, user, item, weights, 0.8).matrix
    monkeypatch.setattr(space_module, "MAX_PAIRS", 1_500)  # about a fifth of the users
    a = fit_items(catalog, user, item, weights, 0.8, seed=5).matrix
    b = fit_items(catalog, user, item, weights, 0.8, seed=5).matrix
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, full)
    folded = fold(len(truth), user, item, np.zeros(len(user)), weights, a, FLAT).unit
    assert _precision_at_5(folded, truth) >= 0.9  # a sample of the behaviour still denoises


def test_refits_happen_when_the_events_double() -> None:
    assert refit_due(0.8, 0, 1_000) and not refit_due(0.8, 0, 999)
    assert not refit_due(0.8, 5_000, 9_999) and refit_due(0.8, 5_000, 10_000)
    assert not refit_due(0.0, 0, 10**9)  # centring alone does not depend on behaviour
    for bad in (1.0, -0.1, float("nan")):
        with pytest.raises(ConfigError, match="audience_coengagement"):
            check_coengagement(bad)


def test_the_space_is_saved_with_the_index_and_a_setting_change_refits_it(
    workspace, tmp_path
) -> None:
    catalogue(workspace, tmp_path / "photos", per_interest=4)
    audience = Audience.open(workspace)
    end = datetime(2025, 3, 1, tzinfo=UTC)
    sim = simulate(workspace.tables, SimulationSpec(users=100, volume=VOLUME, seed=4, end=end))
    report = audience.ingest_table(sim.events, "simulate")
    n = sim.events.num_rows
    assert report.refresh.rebuilt == f"user space refitted on {n:,} events (was 0)"
    assert audience.status()["user_space"] == f"co-engagement 0.8, fitted on {n:,} of {n:,} events"
    again = Audience.open(workspace)
    assert again.opened.rebuilt == "" and again.catalog.paths == audience.catalog.paths
    np.testing.assert_array_equal(again.catalog.matrix, audience.catalog.matrix)
    other = Workspace.open(dataclasses.replace(workspace.settings, audience_coengagement=0.0))
    plain = Audience.open(other)
    assert plain.opened.rebuilt == "the co-engagement setting changed"
    raw = plain.raw_items().matrix
    np.testing.assert_allclose(plain.catalog.matrix, raw - raw.mean(axis=0), atol=1e-6)


def test_texts_are_centred_on_the_mean_text_vector(workspace, tmp_path) -> None:
    catalogue(workspace, tmp_path / "photos", per_interest=2)
    audience = Audience.open(workspace)
    texts = audience.embedder.embed_texts(["horse", "goldfish in a bowl"])
    got = audience.texts_to_user_space(texts)
    assert audience._text_mean is not None and np.linalg.norm(audience._text_mean) > 0
    want = texts - audience._text_mean
    np.testing.assert_allclose(got, want / np.linalg.norm(want, axis=1, keepdims=True), atol=1e-6)


def test_heavy_tailed_activity_and_item_popularity_in_the_simulator(workspace, tmp_path) -> None:
    catalogue(workspace, tmp_path / "photos", per_interest=6)
    end = datetime(2025, 3, 1, tzinfo=UTC)
    base = SimulationSpec(users=2000, volume=VOLUME, seed=3, end=end)
    plain = simulate(workspace.tables, base)
    real = simulate(
        workspace.tables,
        dataclasses.replace(base, activity="heavy", item_popularity=1.0),
    )
    counts = [
        np.asarray(
            sim.events.group_by("user_id").aggregate([("item", "count")])["item_count"].to_pylist()
        )
        for sim in (plain, real)
    ]
    assert abs(counts[0].mean() - 20) < 1.5 and abs(counts[1].mean() - 20) < 1.5
    assert (counts[1] <= 3).mean() > 0.03 > (counts[0] <= 3).mean()
    assert counts[1].max() > 3 * counts[0].max()
    top = [
        max(
            sim.events.group_by("item")
            .aggregate([("user_id", "count")])["user_id_count"]
            .to_pylist()
        )
        / sim.events.num_rows
        for sim in (plain, real)
    ]
    assert top[1] > 3 * top[0], top
    with pytest.raises(InvalidInput, match="activity"):
        simulate(workspace.tables, dataclasses.replace(base, activity="bursty"))
