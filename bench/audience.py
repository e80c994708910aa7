"""Audience bench: lookalike search, real-time updates and memory at 100k and 1M users.

    python bench/audience.py [--sizes 100000,1000000] [--queries 1000] [--noise 1.0]
                             [--skip-real] [--skip-quality] [--skip-durable]
    python bench/audience_quality.py     # the quality part alone (~1 minute)

Scale (printed side by side, one run): users are SYNTHETIC vectors generated directly
in the embedder's dimension (384, ConSE's), clustered the way interests are: 50
topics, 2,000 interests around them with Zipf-like popularity, each user a main
interest plus a weaker second one plus noise. For each size:
  build       UserIndex.bulk: IVF lists trained on a sample, all vectors added
  memory      what the index holds (vectors, ids, direct map, centroids: counted from
              its lists, the raw n x d x 4 bytes beside it) and the process RSS
  search      single-query top-5 lookalikes (k=6, self dropped) p50/p99, recall@5
              against exact search (faiss.knn over the same vectors), and the exact
              (flat) scan's own p50 for comparison
  real time   events folded into user vectors and the index through the code path
              of Audience.refresh (Audience._fold_in: decay, sparse mean, FAISS
              update/add), batches of 2,000 events on 1,000 users (half new),
              and one user's single event; Delta is not involved here
  concurrent  search p50/p99 while a writer thread streams update batches
  persist     save (write_index) and load (read_index) of the index
Then durable runs: the same batches through Audience.ingest_table (checks, Delta
commit, change-feed read, fold) on a scratch workspace, to show what the commit costs,
with co-engagement off and on (on: the user space is refitted when events double).

With ../shared/datasets (else skipped): the pets photos are ingested and embedded
with ConSE, and the same measurements run on users FOLDED FROM REAL ITEM VECTORS
(~20 events each, 80% on a main breed, the real fold code, vectorised), twice: from
the raw embeddings (before #7) and from the user space fitted on those events (after
#7: co-engagement + centring; the fit's own time is a row). Then quality, before and
after side by side (bench/audience_quality.py: definitions are printed with it).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
from audience_quality import report

from adseed.audience import Audience
from adseed.audience.simulate import SimulationSpec, group_items
from adseed.audience.space import fit_items
from adseed.audience.userindex import UserIndex
from adseed.audience.vectors import ItemCatalog, UserState, Weighting, event_coefficients, fold
from adseed.config import Settings
from adseed.storage.tables import ASSETS, EMBEDDINGS
from adseed.workspace import Workspace

from _common import DATASETS, cores, scratch_workspace

DEFAULTS = Settings()


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def synthetic_users(n: int, dim: int, seed: int = 0, noise: float = 1.0) -> np.ndarray:
    """Clustered unit vectors: topics → interests → users (main + second interest + noise)."""
    rng = np.random.default_rng(seed)
    topics = unit(rng.standard_normal((50, dim)))
    interests = unit(
        topics[rng.integers(0, 50, 2000)] + 0.7 * rng.standard_normal((2000, dim)) / np.sqrt(dim)
    )
    pop = 1 / np.arange(1, 2001) ** 0.7
    out = np.empty((n, dim), np.float32)
    for s in range(0, n, 100_000):
        m = min(100_000, n - s)
        main, second = (
            rng.choice(2000, m, p=pop / pop.sum()),
            rng.choice(2000, m, p=pop / pop.sum()),
        )
        x = interests[main] + rng.uniform(0, 0.6, (m, 1)) * interests[second]
        out[s : s + m] = unit(x + noise * rng.standard_normal((m, dim)) / np.sqrt(dim))
    return out


def index_bytes(index: UserIndex) -> int:
    """What the FAISS index holds: vectors and ids in its lists, the direct map, centroids."""
    faiss_index = index._index
    per_user = faiss_index.code_size + 8 + 8  # vector, list id entry, direct-map entry
    return faiss_index.ntotal * per_user + faiss_index.nlist * faiss_index.d * 4


def percentiles(seconds: list[float]) -> tuple[float, float]:
    ms = np.array(seconds) * 1000
    return float(np.percentile(ms, 50)), float(np.percentile(ms, 99))


def search_stats(index: UserIndex, x: np.ndarray, queries: np.ndarray) -> dict:
    import faiss

    times, found = [], []
    for q in queries:
        t0 = time.perf_counter()
        _, slots = index.search(x[q][None], 6)
        times.append(time.perf_counter() - t0)
        found.append([s for s in slots[0] if s != q][:5])
    _, truth = faiss.knn(x[queries], x, 6, metric=faiss.METRIC_INNER_PRODUCT)
    recall = np.mean(
        [
            len(set(f) & set(t[t != q][:5])) / 5
            for f, t, q in zip(found, truth, queries, strict=True)
        ]
    )
    flat = []
    for q in queries[:30]:
        t0 = time.perf_counter()
        faiss.knn(x[q][None], x, 6, metric=faiss.METRIC_INNER_PRODUCT)
        flat.append(time.perf_counter() - t0)
    p50, p99 = percentiles(times)
    return {"p50": p50, "p99": p99, "recall": float(recall), "flat_p50": percentiles(flat)[0]}


def fold_engine(tmp: Path, index: UserIndex, n_items: int, dim: int) -> Audience:
    """An Audience whose index, state and item catalogue are the bench's own (no Delta)."""
    settings = dataclasses.replace(DEFAULTS, home=tmp / "fold-ws", embedder="fake")
    ws = Workspace.init(settings)
    from adseed.embed.fake import FakeEmbedder

    audience = Audience(ws, FakeEmbedder(dim))
    rng = np.random.default_rng(5)
    items = unit(rng.standard_normal((n_items, dim)))
    audience.catalog = ItemCatalog([f"/Volumes/b/e/i/{i}.png" for i in range(n_items)], items)
    n = len(index)
    audience.index = index
    audience.state = UserState(np.ones(n), np.full(n, 1.7e9), np.ones(n), np.ones(n, np.int64))
    return audience


def event_batch(
    rng, known: list[str], fresh_prefix: str, users: int, items: int, per_user: int = 2
) -> pa.Table:
    old = [known[i] for i in rng.integers(0, len(known), users // 2)]
    new = [f"{fresh_prefix}-{i}" for i in range(users - len(old))]
    who = np.repeat(np.array(old + new, dtype=object), per_user)
    ts = dt.datetime(2025, 1, 1, tzinfo=dt.UTC).timestamp() + rng.uniform(0, 86_400, len(who))
    return pa.table(
        {
            "user_id": pa.array(who.tolist(), pa.string()),
            "item": pa.array([f"/Volumes/b/e/i/{i}.png" for i in rng.integers(0, items, len(who))]),
            "event": pa.array(rng.choice(["view", "click", "purchase"], len(who)).tolist()),
            "ts": pa.array((ts * 1e6).astype(np.int64)).cast(pa.timestamp("us", tz="UTC")),
        }
    )


def realtime(audience: Audience, rounds: int = 20) -> dict:
    """Users per second folded (decay + mean + FAISS upsert), and one event's latency."""
    rng = np.random.default_rng(9)
    known = audience.index.ids[: len(audience.index)]
    batches = [
        event_batch(rng, known, f"rt{r}", 1000, len(audience.catalog.paths)) for r in range(rounds)
    ]
    audience._fold_in(batches.pop())  # warm-up: imports, allocations
    rounds -= 1
    t0 = time.perf_counter()
    for b in batches:
        audience._fold_in(b)
    rate = rounds * 1000 / (time.perf_counter() - t0)
    single = []
    for _ in range(200):
        one = event_batch(rng, known, "x", 2, len(audience.catalog.paths), per_user=1).slice(0, 1)
        t0 = time.perf_counter()
        audience._fold_in(one)
        single.append(time.perf_counter() - t0)
    return {"users_per_s": rate, "single_p50": percentiles(single)[0]}


def concurrent(index: UserIndex, x: np.ndarray, queries: np.ndarray) -> dict:
    """Search latency while a writer streams 1,000-user update batches (and its rate)."""
    stop, written = threading.Event(), [0]
    rng = np.random.default_rng(3)

    def writer() -> None:
        while not stop.is_set():
            slots = np.unique(rng.integers(0, len(x), 1000))
            index.upsert(
                [index.ids[s] for s in slots],
                unit(x[slots] + 0.05 * rng.standard_normal((len(slots), x.shape[1]))),
            )
            written[0] += len(slots)

    thread = threading.Thread(target=writer)
    thread.start()
    t_start, times = time.perf_counter(), []
    for q in queries:
        t0 = time.perf_counter()
        index.search(x[q][None], 6)
        times.append(time.perf_counter() - t0)
    stop.set()
    thread.join()
    p50, p99 = percentiles(times)
    return {"p50": p50, "p99": p99, "writes_per_s": written[0] / (time.perf_counter() - t_start)}


def persist(index: UserIndex, tmp: Path) -> dict:
    path = tmp / "bench.faiss"
    t0 = time.perf_counter()
    index.write(path)
    save = time.perf_counter() - t0
    t0 = time.perf_counter()
    UserIndex.read(path, index.ids, index.trained_at, index.exact_below, index.nprobe)
    load = time.perf_counter() - t0
    size = path.stat().st_size / 2**20
    path.unlink()
    return {"save_s": save, "load_s": load, "file_mb": size}


def scale(x: np.ndarray, gen: float, n_queries: int, tmp: Path) -> dict:
    n, dim = x.shape
    ids = [f"u{i}" for i in range(n)]
    t0 = time.perf_counter()
    index = UserIndex.bulk(ids, x, DEFAULTS.audience_exact_below, DEFAULTS.audience_nprobe)
    build = time.perf_counter() - t0
    queries = np.random.default_rng(1).choice(n, min(n_queries, n), replace=False)
    out = {"n": n, "gen_s": gen, "build_s": build, "kind": index.kind, "rss_mb": rss_mb()}
    out["mem_mb"] = index_bytes(index) / 2**20
    out |= search_stats(index, x, queries)
    out |= {f"busy_{k}": v for k, v in concurrent(index, x, queries).items()}
    out |= persist(index, tmp)
    out |= realtime(fold_engine(tmp / f"e{n}-{time.time_ns()}", index, 10_000, dim))
    return out


def real_item_users(
    catalog: ItemCatalog, groups: dict[str, list[str]], n: int, space: bool
) -> tuple[np.ndarray, float]:
    """Users folded (the real fold) from ~20 events each on the real items' vectors.

    Same behaviour model as ``adseed audience simulate`` (a main interest = a breed,
    80% of events on it), vectorised so a million users take seconds, not minutes.
    ``space``: fold from the user space fitted on these events (as ``Audience`` does
    since #7), else from the raw embeddings (before); returns the seconds the fit took.
    """
    rng = np.random.default_rng(0)
    rows = [np.array([catalog.row[p] for p in groups[g] if p in catalog.row]) for g in groups]
    sizes = np.array([len(r) for r in rows])
    starts, flat = np.concatenate([[0], np.cumsum(sizes)[:-1]]), np.concatenate(rows)
    pop = 1 / np.sqrt(1 + rng.permutation(len(rows)))
    interest = rng.choice(len(rows), n, p=pop / pop.sum())
    user = np.repeat(np.arange(n), 1 + rng.poisson(19, n))
    g = interest[user]
    own = flat[starts[g] + (rng.random(len(user)) * sizes[g]).astype(np.int64)]
    item = np.where(
        rng.random(len(user)) < 0.8, own, rng.integers(0, len(catalog.paths), len(user))
    )
    ts = 1.7e9 + rng.random(len(user)) * 60 * 86_400
    kind = np.array([1.0, 3.0, 10.0])[rng.choice(3, len(user), p=[0.8, 0.15, 0.05])]
    weighting = Weighting((1.0, 3.0, 10.0), DEFAULTS.audience_half_life_days * 86_400)
    t0 = time.perf_counter()
    if space:
        coef = event_coefficients(n, user, ts, kind, weighting)
        catalog = fit_items(catalog, user, item, coef, DEFAULTS.audience_coengagement)
    fit_s = time.perf_counter() - t0
    return fold(n, user, item, ts, kind, catalog.matrix, weighting).unit, fit_s


def durable(tmp: Path, dim: int, coengagement: float, rounds: int = 5) -> float:
    """Users/s through Audience.record's path: Delta commit, change feed, fold.

    With co-engagement on, the user space is refitted (a rebuild) each time the events
    table doubles: twice in these rounds (at 4,000 and 8,000 events).
    """
    settings = dataclasses.replace(
        DEFAULTS,
        home=tmp / f"durable-ws-{coengagement}",
        embedder="fake",
        audience_coengagement=coengagement,
    )
    ws = Workspace.init(settings)
    add_items(ws, 10_000, dim)
    audience = Audience.open(ws)
    rng = np.random.default_rng(2)
    known = [f"seed{i}" for i in range(1000)]
    audience.ingest_table(event_batch(rng, known, "seed", 1000, 10_000), "warm-up")
    t0 = time.perf_counter()
    for r in range(rounds):
        audience.ingest_table(event_batch(rng, known, f"d{r}", 1000, 10_000), f"bench {r}")
    return rounds * 1000 / (time.perf_counter() - t0)


def add_items(ws: Workspace, n: int, dim: int) -> None:
    """Synthetic asset and embedding rows (like bench/search.py), for a fold without photos."""
    rng = np.random.default_rng(5)
    vectors = unit(rng.standard_normal((n, dim)))
    paths = [f"/Volumes/b/e/i/{i}.png" for i in range(n)]
    now = [dt.datetime.now(dt.UTC)] * n
    model = ws.embedder().model_id
    ws.tables.append("asset_embeddings", pa.table({
        "path": paths, "sha256": ["0" * 64] * n, "model_id": [model] * n,
        "vector": pa.ListArray.from_arrays(np.arange(n + 1) * dim, pa.array(vectors.ravel())),
        "embedded_at": now}, schema=EMBEDDINGS))  # fmt: skip
    cols = {"path": paths, "volume": ["b.e.i"] * n, "sha256": ["0" * 64] * n, "content": [b""] * n}
    cols |= {"size_bytes": [0] * n, "width": [1] * n, "height": [1] * n, "format": ["PNG"] * n}
    cols |= {"kind": ["seed"] * n, "tags": [[]] * n, "source_name": paths, "ingested_at": now}
    ws.tables.append("assets", pa.table(cols, schema=ASSETS))


def print_scale(title: str, results: list[dict], durable_rate: tuple | None, dim: int) -> None:
    print(f"\n{title}")
    print(f"{'users':34}" + "".join(f"{r['n']:>16,}" for r in results))
    rows = [
        ("index", "kind", "{}"), ("build (train + add), s", "build_s", "{:.1f}"),
        ("index memory, MB", "mem_mb", "{:.0f}"),
        ("process RSS after build, MB", "rss_mb", "{:.0f}"), ("top-5 search p50, ms", "p50", "{:.2f}"),
        ("top-5 search p99, ms", "p99", "{:.2f}"), ("recall@5 vs exact", "recall", "{:.3f}"),
        ("exact flat scan p50, ms", "flat_p50", "{:.1f}"),
        ("real-time fold + upsert, users/s", "users_per_s", "{:,.0f}"),
        ("one event -> searchable, ms", "single_p50", "{:.2f}"),
        ("search p50 while writing, ms", "busy_p50", "{:.2f}"),
        ("search p99 while writing, ms", "busy_p99", "{:.2f}"),
        ("writer under searches, users/s", "busy_writes_per_s", "{:,.0f}"),
        ("save index, s", "save_s", "{:.1f}"), ("load index, s", "load_s", "{:.1f}"),
        ("index file, MB", "file_mb", "{:.0f}"), ("(make the user vectors, s)", "gen_s", "{:.1f}"),
        ("(of which fit the user space, s)", "fit_s", "{:.1f}"),
    ]  # fmt: skip
    for label, key, fmt in rows:
        if key not in results[0]:
            continue
        print(f"{label:34}" + "".join(f"{fmt.format(r[key]):>16}" for r in results))
    raw = "  ".join(
        f"{r['n']:,} x {dim} x 4 B = {r['n'] * dim * 4 / 2**20:,.0f} MB" for r in results
    )
    print(f"raw vectors: {raw}")
    if durable_rate is not None:
        print(
            "durable path (Delta commit + change feed + fold), 1,000-user batches: "
            f"{durable_rate[0]:,.0f} users/s without refits (co-engagement 0), "
            f"{durable_rate[1]:,.0f} users/s with the refits at doubling "
            f"(co-engagement {DEFAULTS.audience_coengagement})"
        )


# -- on real photos ------------------------------------------------------------------


def real_part(sizes: list[int], args, tmp: Path) -> None:
    """Users from the real photos' vectors at scale, then the quality figures."""
    with scratch_workspace(embedder="conse") as (ws, _tmp):
        t0 = time.perf_counter()
        ws.ingest([DATASETS / "pets"], "main.shop.pets")
        embedded = ws.embed()
        print(f"\npets photos: {embedded.summary()} [{time.perf_counter() - t0:.0f} s]")
        audience = Audience.open(ws)
        raw = audience.raw_items()
        groups, _ = group_items(ws.tables, SimulationSpec(users=1, volume="main.shop.pets"), None)
        for space in (False, True):
            results = []
            for n in sizes:
                t0 = time.perf_counter()
                x, fit_s = real_item_users(raw, groups, n, space)
                gen_s = time.perf_counter() - t0
                results.append(scale(x, gen_s, args.queries, tmp) | {"fit_s": fit_s})
                del x
            how = "from the user space (after #7)" if space else "from raw embeddings (before #7)"
            title = (
                f"users folded from ~20 events each on {len(raw.paths)} real photos' "
                f"ConSE vectors ({len(groups)} breeds), {how}"
            )
            print_scale(title, results, None, audience.dim)
        if not args.skip_quality:
            seeds = [int(v) for v in args.quality_seeds.split(",")]
            report(ws, args.quality_users, seeds, [s + 1 for s in seeds], realistic=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--dim", type=int, default=384, help="384: the conse embedder's")
    parser.add_argument("--noise", type=float, default=1.0, help="user noise around interests")
    parser.add_argument("--quality-users", type=int, default=3000)
    parser.add_argument("--quality-seeds", default="7,11,12", help="breeds; clusters: each + 1")
    parser.add_argument("--skip-quality", action="store_true")
    parser.add_argument("--skip-durable", action="store_true")
    parser.add_argument("--skip-real", action="store_true", help="no photos: synthetic only")
    args = parser.parse_args()
    import faiss

    print(f"audience bench on {cores()}, faiss {faiss.__version__}, {args.dim}-d, "
          f"exact below {DEFAULTS.audience_exact_below:,} users, nprobe {DEFAULTS.audience_nprobe}")  # fmt: skip
    sizes = [int(v) for v in args.sizes.split(",")]
    with tempfile.TemporaryDirectory(prefix="adseed-audience-bench-") as tmp:
        results = []
        for n in sizes:
            t0 = time.perf_counter()
            x = synthetic_users(n, args.dim, noise=args.noise)
            results.append(scale(x, time.perf_counter() - t0, args.queries, Path(tmp)))
            del x
        rate = None
        if not args.skip_durable:
            rate = (durable(Path(tmp), args.dim, 0.0), durable(Path(tmp), args.dim, DEFAULTS.audience_coengagement))
        title = f"synthetic clustered users, generated directly as vectors (noise {args.noise})"
        print_scale(title, results, rate, args.dim)
        if (DATASETS / "pets").is_dir() and not args.skip_real:
            real_part(sizes, args, Path(tmp))
        else:
            print(f"\n(real-photo part skipped: no photos at {DATASETS / 'pets'} or --skip-real)")


if __name__ == "__main__":
    main()
