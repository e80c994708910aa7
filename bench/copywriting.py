"""Ad copy: how clean and how fast, on briefs built from ../shared/datasets/products.

(Named copywriting.py: a bench/copy.py would shadow the standard library's ``copy``
for every script run from bench/.)

Usage: ``python bench/copywriting.py [--briefs 20] [--variants 3] [--repeat 5]``

Builds the same catalogue briefs as tests/test_copy_products.py, writes every
placement with the template writer and prints, side by side in one run:

- quality: limit violations, must-avoid hits, duplicate variants (all must be 0), and
  how much of each limit the copy uses (mean / max of length ÷ limit);
- speed: variants/s for the writer alone, for new runs stored in the Delta table
  ``copy`` (one commit per run), and for runs read back from it, with the ratios;
- with ``--retrieval``: whether ``image_suggestion`` works as segment text, i.e. how
  often the top 3 photos that ``adseed search`` (conse) returns for it show the brief's
  species, over the cat and dog briefs (pets + scenes, copied under label-free names).
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from copy_fixtures import LIMITS, product_briefs  # noqa: E402

from adseed.copy.base import problems  # noqa: E402
from adseed.copy.placements import get_placement  # noqa: E402
from adseed.copy.service import run_copy, write_copy  # noqa: E402
from adseed.copy.template import TemplateWriter  # noqa: E402

from _common import (  # noqa: E402
    anonymised_copies,
    cores,
    labelled_rows,
    require_datasets,
    scratch_workspace,
)


def quality(briefs, n: int) -> None:
    writer, found, use = TemplateWriter(), [], {}
    for brief, name in itertools.product(briefs, LIMITS):
        placement = get_placement(name)
        variants = writer.write(brief, placement, n, 0)
        found += problems(variants, brief, placement)
        for variant, field in itertools.product(variants, ("headline", "title", "description")):
            ratio = placement.measure(field, getattr(variant, field)) / placement.limit(field)
            use.setdefault((name, field), []).append(ratio)
    kinds = {k: sum(k in p for p in found) for k in ("characters", "banned", "same")}
    print(f"{len(briefs)} briefs × {n} variants × {len(LIMITS)} placements: "
          f"limit violations {kinds['characters']}, must-avoid hits {kinds['banned']}, "
          f"duplicate variants {kinds['same']}")
    print("share of the limit used (mean / max):")
    for (name, field), ratios in sorted(use.items()):
        print(f"  {name:10} {field:11} {statistics.mean(ratios):.2f} / {max(ratios):.2f}")


def speed(briefs, n: int, repeat: int) -> None:
    writer = TemplateWriter()
    jobs = [(b, get_placement(p)) for b, p in itertools.product(briefs, LIMITS)]
    total = len(jobs) * n
    pure = []
    for _ in range(repeat):
        start = time.perf_counter()
        for brief, placement in jobs:
            write_copy(brief, placement, n, 0, writer)
        pure.append(total / (time.perf_counter() - start))
    with scratch_workspace(embedder="fake") as (ws, _):
        start = time.perf_counter()
        for brief, placement in jobs:
            run_copy(ws.tables, brief, placement, n, 0, writer)
        stored = total / (time.perf_counter() - start)
        start = time.perf_counter()
        for brief, placement in jobs:
            assert run_copy(ws.tables, brief, placement, n, 0, writer).reused
        reused = total / (time.perf_counter() - start)
    best = max(pure)
    print(f"speed ({cores()}), variants/s:")
    print(f"  template writer alone        {best:9.0f}  (median {statistics.median(pure):.0f})")
    print(f"  new runs, one Delta commit   {stored:9.0f}  ({stored / best:.3f} of the writer)")
    print(f"  runs read back from Delta    {reused:9.0f}  ({reused / best:.3f} of the writer)")


def retrieval(briefs, n: int) -> None:
    """Species precision@3 of the image suggestions, searched like a segment text."""
    writer = TemplateWriter()
    queries = []
    for brief in briefs:
        species = next((s for s in ("cat", "dog") if s in (brief.category or "")), None)
        if species:
            for variant in writer.write(brief, get_placement("meta-feed"), n, 0):
                queries.append((species, variant.image_suggestion))
    with scratch_workspace(embedder="conse") as (ws, tmp):
        mapping = anonymised_copies(labelled_rows(), tmp / "photos")
        ws.ingest([tmp / "photos"], "main.eval.photos", kind="seed")
        ws.embed()
        ws.sync_index()
        results = ws.search([q for _, q in queries], k=3)
        hits = [
            sum(mapping[h.path.rsplit("/", 1)[1]]["species"] == species for h in r.hits) / 3
            for (species, _), r in zip(queries, results, strict=True)
        ]
    print(f"image_suggestion as segment text ({ws.embedder().model_id}): species precision@3 "
          f"{statistics.mean(hits):.3f} over {len(queries)} suggestions "
          f"({len(mapping)} photos)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--briefs", type=int, default=20)
    parser.add_argument("--variants", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--retrieval", action="store_true",
                        help="also search the image suggestions (embeds ~1,000 photos)")
    args = parser.parse_args()
    briefs = product_briefs(require_datasets(), args.briefs)
    quality(briefs, args.variants)
    speed(briefs, args.variants, args.repeat)
    if args.retrieval:
        retrieval(briefs, args.variants)


if __name__ == "__main__":
    main()
