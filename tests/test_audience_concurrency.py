"""Writers insert and update while readers search: no errors, every user findable afterwards."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import numpy as np
from audience_helpers import catalogue

from adseed.audience import Audience
from adseed.audience.userindex import UserIndex

DIM = 24


def _unit(rng: np.random.Generator, n: int) -> np.ndarray:
    x = rng.standard_normal((n, DIM)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _run(threads: list[threading.Thread]) -> None:
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
        assert not t.is_alive(), "a thread hung"


def test_writers_and_readers_on_the_index_at_once() -> None:
    """Crosses the exact→IVF threshold and one retrain while searches run."""
    index = UserIndex(DIM, exact_below=500, nprobe=64)  # retrains at 500 and about 2000
    errors: list[BaseException] = []
    latest: dict[str, np.ndarray] = {}
    latest_lock = threading.Lock()
    done = threading.Event()

    def writer(w: int) -> None:
        rng = np.random.default_rng(w)
        try:
            for batch in range(40):
                users = [f"w{w}-u{batch * 20 + i}" for i in range(20)]
                if batch:  # and move many users of earlier batches: entries shift in lists
                    users += [f"w{w}-u{i}" for i in rng.choice(batch * 20, 40)]
                    users = list(dict.fromkeys(users))
                vectors = _unit(rng, len(users))
                index.upsert(users, vectors)
                with latest_lock:
                    latest.update(zip(users, vectors, strict=True))
        except BaseException as exc:  # noqa: BLE001 - collected and asserted on below
            errors.append(exc)

    def reader(r: int) -> None:
        """Anchors never change: each must always be found as its own nearest neighbour."""
        rng = np.random.default_rng(100 + r)
        try:
            while not done.is_set():
                scores, slots = index.search(anchors, 1)
                assert (slots[:, 0] == np.arange(len(anchors))).all(), "an anchor went missing"
                assert np.allclose(scores[:, 0], 1.0, atol=1e-4)
                scores, slots = index.search(_unit(rng, 4), 5)
                assert np.isfinite(scores[slots >= 0]).all()
                assert (slots[slots >= 0] < len(index.ids)).all()
                index.vectors([int(rng.integers(0, len(index)))])
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    anchors = _unit(np.random.default_rng(99), 50)
    index.upsert([f"anchor{i}" for i in range(50)], anchors)  # slots 0..49
    writers = [threading.Thread(target=writer, args=(w,)) for w in range(3)]
    readers = [threading.Thread(target=reader, args=(r,)) for r in range(3)]
    for t in readers:
        t.start()
    _run(writers)
    done.set()
    _run([])
    for t in readers:
        t.join(timeout=60)
    assert not errors, errors[:3]
    assert len(index) == len(latest) + 50 == 3 * 40 * 20 + 50 and index.kind.startswith("IVF")
    assert index.trained_at >= 2000
    users = sorted(latest)
    stored = index.vectors([index.slot(u) for u in users])
    np.testing.assert_array_equal(stored, np.stack([latest[u] for u in users]))
    _, top = index.search(stored, 1)  # every user is its own nearest neighbour
    assert [index.ids[s] for s in top[:, 0]] == users


def test_real_time_records_while_lookalike_searches_run(workspace, tmp_path) -> None:
    items = catalogue(workspace, tmp_path / "photos", per_interest=2)
    paths = [p for ps in items.values() for p in ps]
    audience = Audience.open(workspace)
    audience.record(
        [{"user_id": "seed", "item": paths[0], "event": "view", "ts": datetime.now(UTC)}]
    )
    errors: list[BaseException] = []
    done = threading.Event()

    def writer(w: int) -> None:
        try:
            for batch in range(5):
                now = datetime.now(UTC)
                audience.record(
                    [
                        {
                            "user_id": f"w{w}-{batch}-{i}",
                            "item": paths[(w + i) % len(paths)],
                            "event": "click",
                            "ts": now,
                        }
                        for i in range(6)
                    ]
                )
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    def reader() -> None:
        try:
            while not done.is_set():
                audience.similar("seed", k=5)
                audience.match(["golden retriever beach"], k=5)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    readers = [threading.Thread(target=reader) for _ in range(2)]
    for t in readers:
        t.start()
    _run([threading.Thread(target=writer, args=(w,)) for w in range(3)])
    done.set()
    for t in readers:
        t.join(timeout=60)
    assert not errors, errors[:3]
    expected = {"seed"} | {f"w{w}-{b}-{i}" for w in range(3) for b in range(5) for i in range(6)}
    assert set(audience.index.ids) == expected
    assert workspace.tables.read("events", columns=["user_id"]).num_rows == len(expected)
    for user in expected - {"seed"}:
        assert audience.similar(user, k=1)  # findable, with a neighbour
    reopened = Audience.open(workspace)  # and durable: all in Delta, folded on open
    assert set(reopened.index.ids) == expected
