"""The FAISS user index: exact then IVF, in-place updates, atomic persistence, rebuilds."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime

import numpy as np
import pytest
from audience_helpers import catalogue

from adseed.audience import Audience
from adseed.audience.store import AudienceStore
from adseed.audience.userindex import UserIndex, nlist_for
from adseed.errors import InvalidInput, NotFound, StateError


def clustered(n: int, dim: int = 24, centers: int = 12, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    c = rng.standard_normal((centers, dim))
    x = c[rng.integers(0, centers, n)] + 0.6 * rng.standard_normal((n, dim))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def exact_top(x: np.ndarray, q: np.ndarray, k: int) -> np.ndarray:
    return np.argsort(-(q @ x.T), axis=1)[:, :k]


def test_exact_below_the_threshold_then_ivf_with_high_recall() -> None:
    x = clustered(1500)
    index = UserIndex(24, exact_below=400, nprobe=8)
    ids = [f"u{i}" for i in range(len(x))]
    index.upsert(ids[:300], x[:300])
    assert index.kind == "exact"
    _, got = index.search(x[:50], 5)
    assert (got == exact_top(x[:300], x[:50], 5)).all()  # exact means exact
    for start in range(300, 1500, 300):
        index.upsert(ids[start : start + 300], x[start : start + 300])
    assert index.kind == f"IVF{nlist_for(600)}" and len(index) == 1500
    assert index.trained_at == 600  # crossed 400 at 600; retrains at 4 x 600
    q = x[::15]
    _, got = index.search(q, 5)
    truth = exact_top(x, q, 5)
    recall = np.mean([len(set(a) & set(b)) / 5 for a, b in zip(got, truth, strict=True)])
    assert recall >= 0.9
    np.testing.assert_array_equal(index.vectors([7, 1499]), x[[7, 1499]])


def test_an_update_moves_a_user_without_a_new_slot() -> None:
    x = clustered(900)
    index = UserIndex.bulk([f"u{i}" for i in range(900)], x, exact_below=100, nprobe=4)
    assert index.kind.startswith("IVF")
    target = x[500]
    added, updated = index.upsert(["u3", "new"], np.stack([target, x[1]]))
    assert (added, updated) == (1, 1) and len(index) == 901
    np.testing.assert_array_equal(index.vectors([index.slot("u3")])[0], target)
    scores, slots = index.search(target[None], 3)
    assert {index.ids[s] for s in slots[0][:2]} == {"u3", "u500"}
    assert scores[0][0] == pytest.approx(1.0, abs=1e-5)


def test_bad_upserts_are_refused() -> None:
    index = UserIndex(4, exact_below=10, nprobe=1)
    with pytest.raises(InvalidInput):
        index.upsert(["a", "a"], np.ones((2, 4)))
    with pytest.raises(InvalidInput):
        index.upsert(["a"], np.ones((2, 4)))
    with pytest.raises(InvalidInput):
        index.search(np.ones((1, 3)), 1)
    with pytest.raises(StateError):
        index.vectors([0])


def test_write_and_read_back_give_the_same_answers(tmp_path) -> None:
    x = clustered(700)
    ids = [f"u{i}" for i in range(700)]
    index = UserIndex.bulk(ids, x, exact_below=200, nprobe=6)
    index.write(tmp_path / "i.faiss")
    back = UserIndex.read(tmp_path / "i.faiss", ids, index.trained_at, 200, 6)
    assert back.kind == index.kind and back.ids == ids
    np.testing.assert_array_equal(back.search(x[:20], 5)[1], index.search(x[:20], 5)[1])
    back.upsert(["u1"], x[2:3])  # the direct map survived serialisation
    np.testing.assert_array_equal(back.vectors([1])[0], x[2])
    with pytest.raises(StateError):
        UserIndex.read(tmp_path / "i.faiss", ids[:-1], 0, 200, 6)


def _record(audience: Audience, items, users: list[str]) -> None:
    now = datetime.now(UTC)
    paths = [p for ps in items.values() for p in ps]
    audience.record(
        [
            {"user_id": u, "item": paths[i % len(paths)], "event": "view", "ts": now}
            for i, u in enumerate(users)
        ]
    )


def test_open_catches_up_from_the_change_feed_and_saves_atomically(workspace, tmp_path) -> None:
    items = catalogue(workspace, tmp_path / "photos", per_interest=2)
    first = Audience.open(workspace)
    assert first.opened.rebuilt == "no saved user index"
    _record(first, items, ["a", "b", "c"])
    assert first.checkpoint() is False  # 3 events: not worth a save
    second = Audience.open(workspace)  # folds the 3 events from the CDF
    assert second.opened.rebuilt == "" and second.opened.events == 3
    assert sorted(second.index.ids) == ["a", "b", "c"]
    assert second.checkpoint(force=True)
    store = AudienceStore(workspace.home / "audience", first.model_id)
    gens = sorted(p.name for p in store.root.iterdir() if p.name.startswith("gen-"))
    assert store.current() is not None and store.current().name == gens[-1] and len(gens) <= 2
    (store.root / ".tmp-leftover").mkdir()  # a crashed save's folder is ignored
    third = Audience.open(workspace)
    assert third.opened.events == 0 and third.opened.rebuilt == ""
    assert [m.user_id for m in third.similar("a", 2)] == [m.user_id for m in second.similar("a", 2)]


def test_an_unreadable_snapshot_is_rebuilt_from_the_tables(workspace, tmp_path) -> None:
    items = catalogue(workspace, tmp_path / "photos", per_interest=2)
    audience = Audience.open(workspace)
    _record(audience, items, ["a", "b"])
    audience.checkpoint(force=True)
    (audience.store.current() / "index.faiss").write_bytes(b"garbage")
    again = Audience.open(workspace)
    assert again.opened.rebuilt.startswith("gen-") and sorted(again.index.ids) == ["a", "b"]
    (again.store.current() / "items.parquet").unlink()  # the user space is part of it
    third = Audience.open(workspace)
    assert third.opened.rebuilt.startswith("gen-") and "items.parquet" in third.opened.rebuilt
    meta = third.store.current() / "meta.json"  # a snapshot from before the user space
    old = {k: v for k, v in json.loads(meta.read_text()).items() if k not in ("coengagement",)}
    meta.write_text(json.dumps(old | {"format": 2}))
    assert Audience.open(workspace).opened.rebuilt.endswith("missing or incompatible meta.json")
    shutil.rmtree(workspace.home / "audience")
    assert Audience.open(workspace).opened.rebuilt == "no saved user index"


def test_deleted_events_force_a_rebuild(workspace, tmp_path) -> None:
    items = catalogue(workspace, tmp_path / "photos", per_interest=2)
    audience = Audience.open(workspace)
    _record(audience, items, ["keep", "forget"])
    workspace.tables.open("events").delete("user_id = 'forget'")  # e.g. an erasure request
    assert audience.refresh().rebuilt == "events were deleted or rewritten"
    assert audience.index.ids == ["keep"]
    with pytest.raises(NotFound):
        audience.similar("forget")


def test_match_finds_users_by_text(workspace, tmp_path) -> None:
    items = catalogue(workspace, tmp_path / "photos", per_interest=3)
    audience = Audience.open(workspace)
    now = datetime.now(UTC)
    rows = [
        {"user_id": f"{kind}-{i}", "item": p, "event": "click", "ts": now}
        for kind in ("goldfish", "horse")
        for i in range(4)
        for p in items[kind]
    ]
    audience.record(rows)
    found = audience.match(["goldfish", "horse"], k=4)
    assert {m.user_id.split("-")[0] for m in found[0]} == {"goldfish"}
    assert {m.user_id.split("-")[0] for m in found[1]} == {"horse"}
    with pytest.raises(InvalidInput):
        audience.match([" "], k=3)
    with pytest.raises(InvalidInput):
        audience.match(["x"], k=0)
