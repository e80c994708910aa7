"""Compositor time per ad, per format, beside the retrieval that precedes it.

    python bench/generate.py [--embedder conse] [--queries 8] [--repeat 5] [--save DIR]

One run, one scratch workspace: the pets photos of ../shared/datasets are ingested as
seeds and a products/ pack-shot as the brand image, embedded and synced. Then, for
each segment query (bench/segment_queries.json):

* retrieval: ``Workspace.search([q], k=3, kind="seed")``, a fresh vector query with the
  text encoder (what the first request for a text costs), and the remembered
  candidates (what seed_index 1 and 2 cost: one SQLite look-up);
* compositor: ``Compositor.generate`` on the top seed and the pack-shot, for each of
  the four formats (bytes in, PNG bytes out: decode, crop, cut-out, layout, text, encode);
* service: ``generate_ad(..., generate=True)`` end to end (retrieval from memory,
  compositor, scores, volume write, Delta row, MLflow trace).

It prints medians (and p90) side by side, with the compositor/retrieval ratio.
``--save DIR`` also writes the first query's four ads there, to look at.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from adseed.generate.base import FORMATS, AdRequest
from adseed.generate.compositor import Compositor
from adseed.generate.memory import SeedMemory, memory_key
from adseed.generate.service import generate_ad, index_version

from _common import cores, require_datasets, scratch_workspace

QUERIES_FILE = Path(__file__).with_name("segment_queries.json")
BRAND = "products/14_1.jpg"


def ms(values: list[float]) -> str:
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]
    return f"{statistics.median(values) * 1000:7.1f} ms (p90 {p90 * 1000:6.1f})"


def timed(fn, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def prepare(ws, datasets: Path) -> None:
    start = time.perf_counter()
    ws.ingest([datasets / "pets"], "main.bricks.seeds", kind="seed")
    ws.ingest([datasets / BRAND], "main.bricks.brand", kind="brand")
    ws.embed()
    ws.sync_index()
    print(f"workspace ready in {time.perf_counter() - start:.1f} s "
          f"({ws.tables.read('assets', columns=['path']).num_rows} assets)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--embedder", default="conse")
    parser.add_argument("--queries", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--save", type=Path, default=None)
    args = parser.parse_args()
    datasets = require_datasets()
    queries = [row["query"] for row in json.loads(QUERIES_FILE.read_text())][: args.queries]

    with scratch_workspace(embedder=args.embedder) as (ws, _):
        prepare(ws, datasets)
        ws.search(["warm-up"], k=3, kind="seed")
        search, recalled = [], []
        compositor = {name: [] for name in FORMATS}
        service = {name: [] for name in FORMATS}
        brand = ws.read_file(f"/Volumes/main/bricks/brand/{Path(BRAND).name}")
        comp = Compositor()
        for n, query in enumerate(queries):
            search += timed(lambda q=query: ws.search([q], k=3, kind="seed"), args.repeat)
            first = generate_ad(ws, query)  # remembers the three
            key = memory_key(query, ws.embedder().model_id, index_version(ws), ws.principal.name)
            recalled += timed(lambda k=key: SeedMemory(ws.home).recall(k), args.repeat)
            seed = ws.read_file(first.seed_path)
            for name, fmt in FORMATS.items():
                request = AdRequest(seed, brand, query, fmt)
                compositor[name] += timed(lambda r=request: comp.generate(r), args.repeat)
                service[name] += timed(
                    lambda q=query, f=name: generate_ad(ws, q, generate=True, fmt=f), 1
                )
                if args.save and n == 0:
                    args.save.mkdir(parents=True, exist_ok=True)
                    (args.save / f"{name}.png").write_bytes(comp.generate(request))
        report(args, queries, search, recalled, compositor, service)


def report(args, queries, search, recalled, compositor, service) -> None:
    retrieval = statistics.median(search)
    print(f"\n{len(queries)} segment queries x {args.repeat} repeats, embedder "
          f"{args.embedder}, {cores()}")  # fmt: skip
    print(f"retrieval, vector query (text → top-3)    {ms(search)}")
    print(f"retrieval, remembered candidates         {ms(recalled)}")
    print(f"\n{'format':<10} {'compositor per ad':<28} {'x retrieval':>11}   service end to end")
    for name in FORMATS:
        ratio = statistics.median(compositor[name]) / retrieval
        print(f"{name:<10} {ms(compositor[name]):<28} {ratio:>10.1f}x   {ms(service[name])}")


if __name__ == "__main__":
    main()
