"""Search latency (text → top-3, text encoder included) at ~1k real and 100k vectors.

    python bench/search.py [--embedder conse] [--synthetic 100000] [--repeat 5] [--ann all]

One run, one scratch workspace:
  1. the pets photos in ../shared/datasets are ingested, embedded and synced through
     the Workspace API (≈1k real vectors; skipped with a message when absent);
  2. random unit vectors of the embedder's dimension are appended to the Delta tables
     (with asset rows, so they join like real ones) and synced incrementally: the
     table crosses ``exact_search_below`` and gets its ANN index;
then it prints p50/p99 of ``Workspace.search([q], k=3)`` per query for both sizes
side by side, split into encoder and index time, plus an exact (flat) scan at 100k
and the recall@10 / recall@3 of the ANN index against that exact scan. ``--ann all``
retrains the 100k index as IVF_SQ, IVF_PQ and IVF_HNSW_SQ in turn (minutes) to show
why IVF_SQ is the default.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

from adseed.index.store import ANN_TYPES, VectorIndex, where_sql
from adseed.storage.tables import ASSETS, EMBEDDINGS

from _common import DATASETS, cores, scratch_workspace

QUERIES_FILE = Path(__file__).with_name("segment_queries.json")
FALLBACK_QUERIES = [
    "dog owners who love the outdoors",
    "cat lovers who enjoy a cosy evening on the sofa",
    "families with a playful puppy",
    "people who want a tiny dog they can carry in a handbag",
]


def queries() -> list[str]:
    if QUERIES_FILE.is_file():
        return [row["query"] for row in json.loads(QUERIES_FILE.read_text())]
    return FALLBACK_QUERIES


def load_real(ws) -> int:
    """Ingest + embed + sync the pets photos; returns how many vectors the index holds."""
    pets = DATASETS / "pets"
    if not pets.is_dir():
        print(f"(no real photos: {pets} is absent; the 1k row is skipped)")
        return 0
    t0 = time.perf_counter()
    print(ws.ingest([pets], "main.bricks.seeds").summary())
    print(ws.embed().summary())
    print(ws.sync_index().summary(), f"[{time.perf_counter() - t0:.0f} s in all]")
    return ws.index.count(ws.embedder().model_id)


def add_synthetic(ws, n: int, seed: int = 0) -> None:
    """Random unit vectors in the embedder's space, one Delta commit per table."""
    emb = ws.embedder()
    rng = np.random.default_rng(seed)
    vectors = rng.standard_normal((n, emb.dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    paths = [f"/Volumes/main/bricks/synthetic/s{i:06d}.png" for i in range(n)]
    now = [dt.datetime.now(dt.UTC)] * n
    flat = pa.array(vectors.ravel())
    ws.tables.append(
        "asset_embeddings",
        pa.table(
            {
                "path": paths,
                "sha256": ["0" * 64] * n,
                "model_id": [emb.model_id] * n,
                "vector": pa.ListArray.from_arrays(np.arange(n + 1) * emb.dim, flat),
                "embedded_at": now,
            },
            schema=EMBEDDINGS,
        ),
    )
    columns = {"path": paths, "volume": ["main.bricks.synthetic"] * n, "sha256": ["0" * 64] * n}
    columns |= {"content": [b""] * n, "size_bytes": [0] * n, "width": [1] * n}
    columns |= {"height": [1] * n, "format": ["PNG"] * n, "kind": ["seed"] * n}
    columns |= {"tags": [[]] * n, "source_name": paths, "ingested_at": now}
    ws.tables.append("assets", pa.table(columns, schema=ASSETS))


def latency(ws, texts: list[str], repeat: int) -> dict[str, float]:
    """p50/p99 of one-query searches, and the encoder's and the index's share."""
    emb, model = ws.embedder(), ws.embedder().model_id
    ws.search(texts[:1], k=3)  # warm: weights, table handles
    total, enc, idx = [], [], []
    for _ in range(repeat):
        for text in texts:
            t0 = time.perf_counter()
            ws.search([text], k=3)
            t1 = time.perf_counter()
            vec = emb.embed_texts([text])
            t2 = time.perf_counter()
            ws.index.search(model, vec, 3)
            t3 = time.perf_counter()
            total.append(t1 - t0)
            enc.append(t2 - t1)
            idx.append(t3 - t2)
    ms = {name: np.array(v) * 1000 for name, v in (("all", total), ("enc", enc), ("idx", idx))}
    return {
        "p50": float(np.percentile(ms["all"], 50)),
        "p99": float(np.percentile(ms["all"], 99)),
        "enc50": float(np.percentile(ms["enc"], 50)),
        "idx50": float(np.percentile(ms["idx"], 50)),
    }


def index_only(
    index: VectorIndex, model: str, vectors: np.ndarray, exact: bool, where: str | None = None
) -> dict:
    times, hits = [], []
    for v in vectors:
        t0 = time.perf_counter()
        hits.append(index.search(model, v[None, :], 10, where=where, exact=exact)[0])
        times.append(time.perf_counter() - t0)
    ms = np.array(times[1:] or times) * 1000
    return {"p50": float(np.percentile(ms, 50)), "p99": float(np.percentile(ms, 99)), "hits": hits}


def recall(ann: list, exact: list, k: int) -> float:
    pairs = zip(ann, exact, strict=True)
    got = [len({p for p, _ in a[:k]} & {p for p, _ in e[:k]}) / k for a, e in pairs]
    return float(np.mean(got))


def row(label: str, rows: int, r: dict, extra: str = "") -> None:
    split = f"{r['enc50']:7.1f} {r['idx50']:7.1f}" if "enc50" in r else f"{'':7} {'':7}"
    print(f"{label:30} {rows:>8} {r['p50']:8.1f} {r['p99']:8.1f} {split}  {extra}")


def compare_ann(ws, model: str, vectors: np.ndarray, exact_hits: list) -> None:
    """Retrain the same table as each ANN type: build time, latency and recall."""
    tbl = ws.index.table(model)
    for ann in ANN_TYPES:
        other = VectorIndex(ws.settings.index_root, ws.settings, ann=ann)
        t0 = time.perf_counter()
        other._build_ann(other.table(model))
        build = time.perf_counter() - t0
        r = index_only(other, model, vectors, exact=False)
        rec = f"recall@10 {recall(r['hits'], exact_hits, 10):.3f}  build {build:5.1f} s"
        row(f"  index only, {ann}", tbl.count_rows(), r, rec)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--embedder", default="conse")
    parser.add_argument("--synthetic", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5, help="passes over the queries")
    parser.add_argument("--ann", choices=["default", "all"], default="default")
    args = parser.parse_args()

    texts = queries()
    with scratch_workspace(embedder=args.embedder) as (ws, _tmp):
        model = ws.embedder().model_id
        print(f"embedder {args.embedder} ({model}, {ws.embedder().dim}-d) on {cores()}")
        real = load_real(ws)
        small = latency(ws, texts, args.repeat) if real else None
        t0 = time.perf_counter()
        add_synthetic(ws, args.synthetic)
        report = ws.sync_index()
        print(f"{report.summary()} [{time.perf_counter() - t0:.1f} s]")
        big = latency(ws, texts, args.repeat)
        vectors = ws.embedder().embed_texts(texts)
        flat = index_only(ws.index, model, vectors, exact=True)
        ann = index_only(ws.index, model, vectors, exact=False)
        n = ws.index.count(model)

        print(f"\n{len(texts)} queries x {args.repeat}, k=3; milliseconds")
        print(f"{'':30} {'rows':>8} {'p50':>8} {'p99':>8} {'enc p50':>7} {'idx p50':>7}")
        if small:
            row("text -> top-3, real only", real, small, "exact (flat)")
        row("text -> top-3, + synthetic", n, big, "ANN" if ws.index.uses_ann(model) else "exact")
        row("  index only, exact flat", n, flat)
        rec = f"recall@10 {recall(ann['hits'], flat['hits'], 10):.3f}"
        rec += f"  recall@3 {recall(ann['hits'], flat['hits'], 3):.3f}"
        row(f"  index only, ANN {ws.index.ann}", n, ann, rec)
        seeds = index_only(ws.index, model, vectors, exact=False, where=where_sql(kind="seed"))
        row("  index only, ANN, kind=seed", n, seeds)
        if small:
            print(f"p50 ratio 100k / 1k: {big['p50'] / small['p50']:.2f}x")
        if args.ann == "all":
            compare_ann(ws, model, vectors, flat["hits"])


if __name__ == "__main__":
    main()
