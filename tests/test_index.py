"""The index stage against a real LanceDB and real Delta tables (no mocks).

Rows go into ``assets`` and ``asset_embeddings`` through ``Tables.append`` so these
tests depend only on the table schemas, not on the ingest and embed stages.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json

import numpy as np
import pyarrow as pa
import pytest

from adseed.embed.fake import FakeEmbedder
from adseed.errors import InvalidInput, StateError
from adseed.index.search import Hit, SearchResult, search
from adseed.index.store import VectorIndex, table_name, where_sql
from adseed.index.sync import SyncReport, rebuild, sync_index
from adseed.storage.tables import ASSETS, EMBEDDINGS, sql_quote
from adseed.workspace import Workspace

from conftest import make_png

VOLUME = "main.bricks.seeds"
EMB = FakeEmbedder()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def path_of(name: str) -> str:
    return f"/Volumes/main/bricks/seeds/{name}.png"


def _volume_folder(ws: Workspace) -> None:
    """Rows written straight into the tables still mirror a volume that exists: search
    offers only volumes on disk that the caller may read."""
    (ws.settings.volumes_root / "main" / "bricks" / "seeds").mkdir(parents=True, exist_ok=True)


def add_assets(ws: Workspace, labels: dict[str, str], kind: str = "seed", tags=None) -> None:
    """Append one asset per ``name: label`` and its fake-embedder vector (two commits)."""
    _volume_folder(ws)
    names = list(labels)
    images = [make_png(labels[n]) for n in names]
    assets = pa.table(
        {
            "path": [path_of(n) for n in names],
            "volume": [VOLUME] * len(names),
            "sha256": [hashlib.sha256(b).hexdigest() for b in images],
            "content": images,
            "size_bytes": [len(b) for b in images],
            "width": [32] * len(names),
            "height": [24] * len(names),
            "format": ["PNG"] * len(names),
            "kind": [kind] * len(names),
            "tags": [list((tags or {}).items())] * len(names),
            "source_name": [f"{n}.png" for n in names],
            "ingested_at": [_now()] * len(names),
        },
        schema=ASSETS,
    )
    ws.tables.append("assets", assets)
    add_vectors(ws, names, EMB.embed_images(images), shas=assets["sha256"].to_pylist())


def add_vectors(ws, names, vectors, model_id=EMB.model_id, shas=None) -> None:
    rows = pa.table(
        {
            "path": [path_of(n) for n in names],
            "sha256": shas or ["0" * 64] * len(names),
            "model_id": [model_id] * len(names),
            "vector": [list(map(float, v)) for v in vectors],
            "embedded_at": [_now()] * len(names),
        },
        schema=EMBEDDINGS,
    )
    ws.tables.append("asset_embeddings", rows)


def delete_rows(ws: Workspace, table: str, name: str) -> None:
    ws.tables.open(table).delete(f"path = {sql_quote(path_of(name))}")


def top(ws: Workspace, query: str, k: int = 3, kind: str | None = None) -> list[str]:
    return [h.path for h in ws.search([query], k=k, kind=kind)[0].hits]


PETS = {
    "dog_park": "dog park grass",
    "dog_beach": "dog beach sand",
    "cat_sofa": "cat sofa indoor",
    "cat_window": "cat window indoor",
    "bird_tree": "bird tree outdoor",
}


@pytest.fixture
def synced(workspace: Workspace) -> Workspace:
    add_assets(workspace, PETS)
    workspace.sync_index()
    return workspace


# -- sync ---------------------------------------------------------------------------


def test_first_sync_adds_all_and_second_is_a_no_op(workspace: Workspace):
    add_assets(workspace, PETS)
    first = workspace.sync_index()
    assert (first.added, first.updated, first.deleted) == (5, 0, 0)
    assert first.full_rebuild and "no watermark" in first.reason
    assert workspace.index.count(EMB.model_id) == 5

    second = workspace.sync_index()
    assert second.up_to_date and not second.full_rebuild
    assert (second.added, second.updated, second.deleted) == (0, 0, 0)
    assert "up to date" in second.summary()


def test_new_rows_only_are_added(synced: Workspace):
    add_assets(synced, {"fish_bowl": "fish bowl water", "horse_field": "horse field"})
    report = synced.sync_index()
    assert (report.added, report.updated, report.deleted) == (2, 0, 0)
    assert not report.full_rebuild
    assert report.to_versions == (
        synced.tables.version("asset_embeddings"),
        synced.tables.version("assets"),
    )
    assert synced.index.count(EMB.model_id) == 7
    assert top(synced, "fish water", k=1) == [path_of("fish_bowl")]


def test_asset_deleted_from_both_tables_leaves_the_index(synced: Workspace):
    delete_rows(synced, "asset_embeddings", "dog_beach")
    delete_rows(synced, "assets", "dog_beach")
    report = synced.sync_index()
    assert (report.added, report.updated, report.deleted) == (0, 0, 1)
    assert path_of("dog_beach") not in top(synced, "dog beach sand", k=5)
    assert synced.index.count(EMB.model_id) == 4


def test_asset_row_deleted_alone_removes_its_orphan_vector(synced: Workspace):
    delete_rows(synced, "assets", "bird_tree")
    report = synced.sync_index()
    assert report.deleted == 1
    assert path_of("bird_tree") not in top(synced, "bird tree", k=5)


def test_vector_replaced_by_delete_and_append_is_an_update(synced: Workspace):
    delete_rows(synced, "asset_embeddings", "cat_sofa")
    add_vectors(synced, ["cat_sofa"], EMB.embed_texts(["zebra stripes savanna"]))
    report = synced.sync_index()
    assert (report.added, report.updated, report.deleted) == (0, 1, 0)
    assert top(synced, "zebra savanna", k=1) == [path_of("cat_sofa")]
    assert synced.index.count(EMB.model_id) == 5


def test_vector_changed_by_delta_merge_is_an_update(synced: Workspace):
    """A MERGE writes update_preimage/update_postimage change rows, not insert/delete."""
    source = pa.table(
        {
            "path": [path_of("dog_park")],
            "model_id": [EMB.model_id],
            "vector": [EMB.embed_texts(["penguin ice"])[0].tolist()],
        },
        schema=pa.schema([EMBEDDINGS.field(c) for c in ("path", "model_id", "vector")]),
    )
    (
        synced.tables.open("asset_embeddings")
        .merge(source, "t.path = s.path AND t.model_id = s.model_id", "s", "t")
        .when_matched_update(updates={"vector": "s.vector"})
        .execute()
    )
    report = synced.sync_index()
    assert (report.added, report.updated, report.deleted) == (0, 1, 0)
    assert top(synced, "penguin ice", k=1) == [path_of("dog_park")]


def test_kind_changed_in_assets_reaches_the_filter(synced: Workspace):
    synced.tables.open("assets").update(
        predicate=f"path = {sql_quote(path_of('bird_tree'))}", updates={"kind": "'brand'"}
    )
    report = synced.sync_index()
    assert (report.added, report.updated, report.deleted) == (0, 1, 0)
    assert top(synced, "dog", k=5, kind="brand") == [path_of("bird_tree")]


def test_kind_filter(synced: Workspace):
    add_assets(synced, {"logo": "dog food bag logo"}, kind="brand")
    synced.sync_index()
    assert top(synced, "dog", k=10, kind="brand") == [path_of("logo")]
    seeds = top(synced, "dog", k=10, kind="seed")
    assert path_of("logo") not in seeds and len(seeds) == 5
    assert path_of("logo") in top(synced, "dog food bag", k=2)


def test_volume_and_tag_filters(workspace: Workspace):
    add_assets(workspace, {"a": "dog summer"}, tags={"season": "summer"})
    add_assets(workspace, {"b": "dog winter"}, tags={"season": "winter"})
    workspace.sync_index()
    q = EMB.embed_texts(["dog"])
    where = where_sql(volume=VOLUME, tags={"season": "winter"})
    assert [p for p, _ in workspace.index.search(EMB.model_id, q, 5, where=where)[0]] == [
        path_of("b")
    ]
    assert workspace.index.search(EMB.model_id, q, 5, where=where_sql(volume="x.y.z")) == [[]]


def test_lost_watermark_rebuilds_with_the_same_results(synced: Workspace):
    queries = ["dog", "cat indoor", "bird"]
    before = [r.to_dict() for r in synced.search(queries, k=5)]
    synced.index.watermark_path.unlink()
    report = synced.sync_index()
    assert report.full_rebuild and "watermark" in report.reason
    assert report.added == 5 and "rebuilt" in report.summary()
    assert [r.to_dict() for r in synced.search(queries, k=5)] == before
    assert synced.sync_index().up_to_date


def test_vacuumed_change_feed_falls_back_to_a_rebuild(synced: Workspace):
    delete_rows(synced, "asset_embeddings", "cat_window")
    delete_rows(synced, "assets", "cat_window")
    for name in ("asset_embeddings", "assets"):
        table = synced.tables.open(name)
        table.optimize.compact()
        table.vacuum(retention_hours=0, enforce_retention_duration=False, dry_run=False)
    synced.index.write_watermark(
        dataclasses.replace(synced.index.read_watermark(), assets_version=0)
    )
    report = synced.sync_index()
    assert report.full_rebuild and "change data feed" in report.reason
    assert synced.index.count(EMB.model_id) == 4


def test_large_change_set_reads_the_snapshot_once(synced: Workspace, monkeypatch):
    """Above the IN-list size the changed paths are filtered in memory: same outcome."""
    import adseed.storage.tables as tables_module

    monkeypatch.setattr(tables_module, "_MAX_SQL_IN", 2)
    add_assets(synced, {"fish_bowl": "fish bowl water", "horse_field": "horse field"})
    delete_rows(synced, "asset_embeddings", "dog_beach")
    delete_rows(synced, "assets", "dog_beach")
    report = synced.sync_index()
    assert (report.added, report.updated, report.deleted) == (2, 0, 1)
    assert top(synced, "fish water", k=1) == [path_of("fish_bowl")]


def test_stray_vector_of_another_dimension_is_skipped(synced: Workspace):
    add_assets(synced, {"owl_night": "owl night"})
    delete_rows(synced, "asset_embeddings", "owl_night")
    add_vectors(synced, ["owl_night"], [[1.0, 0.0, 0.0]])
    report = synced.sync_index()
    assert report.skipped == 1 and report.added == 0 and "1 skipped" in report.summary()
    assert synced.index.count(EMB.model_id) == 5


def test_lowered_threshold_builds_the_ann_index_without_delta_changes(settings):
    ws = Workspace.init(settings)
    names, _ = _random_vectors(ws, 600, 16, "rand-16")
    add_assets_meta(ws, names)
    assert ws.sync_index().ann_built == ()
    lowered = Workspace.open(dataclasses.replace(settings, exact_search_below=500))
    report = lowered.sync_index()
    assert report.up_to_date and report.ann_built == ("rand-16",)
    assert "ANN index built" in report.summary() and lowered.index.uses_ann("rand-16")


def test_watermark_is_plain_json_written_atomically(synced: Workspace):
    mark = json.loads(synced.index.watermark_path.read_text())
    assert mark["embeddings_version"] == synced.tables.version("asset_embeddings")
    assert mark["assets_version"] == synced.tables.version("assets")
    assert mark["models"] == [EMB.model_id]
    assert not list(synced.index.root.glob("*.tmp"))


def test_models_get_separate_tables(synced: Workspace):
    rng = np.random.default_rng(1)
    add_vectors(synced, ["dog_park", "cat_sofa"], rng.standard_normal((2, 7)), model_id="other/v1")
    report = synced.sync_index()
    assert report.added == 2
    assert sorted(synced.index.model_ids()) == sorted([EMB.model_id, "other/v1"])
    assert synced.index.count(EMB.model_id) == 5
    assert table_name("other/v1") != table_name("other_v1")


def test_explicit_rebuild_and_report_line(synced: Workspace):
    report = rebuild(synced.tables, synced.index)
    assert isinstance(report, SyncReport) and report.full_rebuild
    assert "\n" not in report.summary() and "5 rows indexed" in report.summary()
    assert sync_index(synced.tables, synced.index).up_to_date


# -- search -------------------------------------------------------------------------


def test_search_result_shape(synced: Workspace):
    results = search(synced.index, EMB, ["dog park", "cat"], 2, None)
    assert [r.query for r in results] == ["dog park", "cat"]
    first = results[0].to_dict()
    assert set(first) == {"query", "hits"} and first["query"] == "dog park"
    assert [set(h) for h in first["hits"]] == [{"path", "score"}] * 2
    assert first["hits"][0]["path"] == path_of("dog_park")
    assert all(h["score"] == round(h["score"], 4) for h in first["hits"])
    scores = [h.score for h in results[1].hits]
    assert scores == sorted(scores, reverse=True)
    assert SearchResult("q", [Hit("/Volumes/a/b/c/d.png", 0.123456)]).to_dict() == {
        "query": "q",
        "hits": [{"path": "/Volumes/a/b/c/d.png", "score": 0.1235}],
    }


def _random_vectors(ws: Workspace, n: int, dim: int, model_id: str, seed: int = 0):
    rng = np.random.default_rng(seed)
    vectors = rng.standard_normal((n, dim)).astype(np.float32)
    names = [f"r{i:05d}" for i in range(n)]
    add_vectors(ws, names, vectors, model_id=model_id)
    return names, vectors


def _numpy_top(vectors: np.ndarray, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    q = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    sims = q @ unit.T
    order = np.argsort(-sims, axis=1, kind="stable")[:, :k]
    return order, np.take_along_axis(sims, order, axis=1)


def test_exact_search_equals_numpy_brute_force(workspace: Workspace):
    names, vectors = _random_vectors(workspace, 300, 16, "rand-16")
    add_assets_meta(workspace, names)
    workspace.sync_index()
    queries = np.random.default_rng(9).standard_normal((8, 16)).astype(np.float32)
    found = workspace.index.search("rand-16", queries, 10)
    order, sims = _numpy_top(vectors, queries, 10)
    for hits, idx, expect in zip(found, order, sims, strict=True):
        assert [p for p, _ in hits] == [path_of(names[i]) for i in idx]
        assert np.allclose([s for _, s in hits], expect, atol=1e-5)


def test_search_api_matches_numpy_over_fake_vectors(synced: Workspace):
    images = [make_png(label) for label in PETS.values()]
    vectors = EMB.embed_images(images)
    queries = ["dog", "indoor cat", "outdoor tree"]
    order, sims = _numpy_top(vectors, EMB.embed_texts(queries), 3)
    names = list(PETS)
    for result, idx, expect in zip(synced.search(queries, k=3), order, sims, strict=True):
        assert [h.path for h in result.hits] == [path_of(names[i]) for i in idx]
        assert np.allclose([h.score for h in result.hits], expect, atol=1e-5)


def add_assets_meta(ws: Workspace, names: list[str], kinds: list[str] | None = None) -> None:
    """Asset rows (no real image) for vectors written with ``add_vectors``."""
    _volume_folder(ws)
    n = len(names)
    ws.tables.append(
        "assets",
        pa.table(
            {
                "path": [path_of(x) for x in names],
                "volume": [VOLUME] * n,
                "sha256": ["0" * 64] * n,
                "content": [b""] * n,
                "size_bytes": [0] * n,
                "width": [1] * n,
                "height": [1] * n,
                "format": ["PNG"] * n,
                "kind": kinds or ["seed"] * n,
                "tags": [[]] * n,
                "source_name": names,
                "ingested_at": [_now()] * n,
            },
            schema=ASSETS,
        ),
    )


def test_ann_above_threshold_keeps_recall(settings):
    """Clustered vectors (like real embeddings) above a small threshold → IVF index."""
    ws = Workspace.init(dataclasses.replace(settings, exact_search_below=1000))
    rng = np.random.default_rng(3)
    dim, n = 32, 3000
    centers = rng.standard_normal((30, dim))
    vectors = centers[rng.integers(0, 30, n)] + 0.35 * rng.standard_normal((n, dim))
    names = [f"v{i:05d}" for i in range(n)]
    add_vectors(ws, names, vectors, model_id="clustered")
    add_assets_meta(ws, names, kinds=["brand" if i % 10 == 0 else "seed" for i in range(n)])
    report = ws.sync_index()
    assert report.ann_built == ("clustered",) and ws.index.uses_ann("clustered")

    queries = centers[rng.integers(0, 30, 40)] + 0.35 * rng.standard_normal((40, dim))
    ann = ws.index.search("clustered", queries, 10)
    exact = ws.index.search("clustered", queries, 10, exact=True)
    recall = np.mean(
        [len({p for p, _ in a} & {p for p, _ in e}) / 10 for a, e in zip(ann, exact, strict=True)]
    )
    assert recall >= 0.9
    for a, e in zip(ann, exact, strict=True):  # refined on full vectors: exact scores
        exact_scores = dict(e)
        assert all(abs(s - exact_scores[p]) < 1e-5 for p, s in a if p in exact_scores)
    brand = ws.index.search("clustered", queries[:5], 10, where=where_sql(kind="brand"))
    assert all(len(h) == 10 and all(int(p[-9:-4]) % 10 == 0 for p, _ in h) for h in brand)


def test_incremental_sync_above_threshold_keeps_ann_current(settings):
    ws = Workspace.init(dataclasses.replace(settings, exact_search_below=500))
    names, vectors = _random_vectors(ws, 800, 16, "rand-16")
    add_assets_meta(ws, names)
    assert ws.sync_index().ann_built == ("rand-16",)
    extra, extra_vectors = ["x_new"], np.ones((1, 16), np.float32)
    add_vectors(ws, extra, extra_vectors, model_id="rand-16")
    add_assets_meta(ws, extra)
    report = ws.sync_index()
    assert report.added == 1 and not report.full_rebuild
    assert ws.index.search("rand-16", extra_vectors, 1)[0][0][0] == path_of("x_new")


# -- errors -------------------------------------------------------------------------


@pytest.mark.parametrize("queries", [[], [""], ["dog", "   "], [None]])
def test_empty_or_malformed_query_is_invalid_input(synced: Workspace, queries):
    with pytest.raises(InvalidInput):
        synced.search(queries, k=3)


@pytest.mark.parametrize("k", [0, -1, 1001, 2.5, True])
def test_k_out_of_range_is_invalid_input(synced: Workspace, k):
    with pytest.raises(InvalidInput, match="k must be"):
        search(synced.index, EMB, ["dog"], k, None)


def test_never_synced_model_says_what_to_run(workspace: Workspace):
    with pytest.raises(StateError, match=r"adseed embed.*adseed index sync"):
        workspace.search(["dog"], k=3)
    add_assets(workspace, PETS)
    workspace.sync_index()
    with pytest.raises(StateError, match="adseed index sync"):
        search(workspace.index, FakeEmbedder(dim=8), ["dog"], 3, None)


def test_index_reopened_in_a_new_object_sees_the_data(synced: Workspace):
    fresh = VectorIndex(synced.settings.index_root, synced.settings)
    assert fresh.count(EMB.model_id) == 5
    assert search(fresh, EMB, ["dog park"], 1, None)[0].hits[0].path == path_of("dog_park")
