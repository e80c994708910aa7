"""Retrieval quality of an embedder on ../shared/datasets (pets + scenes), through the real path.

Photos are copied under label-free names, ingested, embedded, synced into the index,
and searched with the CLI's code path. Prints breed precision@3 over the 37
Oxford-IIIT breeds ("a photo of a <breed>"), cat/dog precision@10, and precision@3 of
the segment-style queries in bench/segment_queries.json.

    python bench/quality.py [--embedder conse] [--verbose]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from _common import anonymised_copies, labelled_rows, scratch_workspace

ALIASES = {"german shorthaired pointer": "german shorthaired", "cocker spaniel": "english cocker spaniel"}
SEGMENTS = Path(__file__).with_name("segment_queries.json")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--embedder", default="conse")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()

    rows = labelled_rows()
    breeds = sorted({ALIASES.get(r["label"], r["label"]) for r in rows if r["path"].startswith("pets/")})
    segments = json.loads(SEGMENTS.read_text())
    with scratch_workspace(embedder=args.embedder) as (ws, tmp):
        mapping = anonymised_copies(rows, tmp / "photos")
        ws.ingest([tmp / "photos"], "main.eval.photos", kind="seed")
        ws.embed()
        ws.sync_index()

        def labels_of(result) -> list[dict[str, str]]:
            return [mapping[hit.path.rsplit("/", 1)[-1]] for hit in result.hits]

        breed_q = [f"a photo of a {b}" for b in breeds]
        breed_p = []
        for breed, res in zip(breeds, ws.search(breed_q, k=3), strict=True):
            got = [ALIASES.get(r["label"], r["label"]) for r in labels_of(res)]
            breed_p.append(sum(g == breed for g in got) / 3)
            if args.verbose:
                print(f"  {breed_p[-1]:.2f}  {breed:28s} {got}")
        species = {}
        for sp, res in zip(("cat", "dog"), ws.search(["a photo of a cat", "a photo of a dog"], k=10), strict=True):
            species[sp] = sum(r["species"] == sp for r in labels_of(res)) / 10
        seg_p = []
        for seg, res in zip(segments, ws.search([s["query"] for s in segments], k=3), strict=True):
            got = [ALIASES.get(r["label"], r["label"]) for r in labels_of(res)]
            seg_p.append(sum(g in seg["expected"] for g in got) / 3)
            if args.verbose:
                print(f"  {seg_p[-1]:.2f}  {seg['query'][:60]:60s} {got}")

    print(f"embedder: {ws.embedder().model_id}; {len(rows)} photos (pets + scenes)")
    print(f"breed precision@3 ({len(breeds)} breeds, 'a photo of a <breed>'): {sum(breed_p) / len(breed_p):.3f}")
    print(f"'a photo of a cat' precision@10: {species['cat']:.2f}")
    print(f"'a photo of a dog' precision@10: {species['dog']:.2f}")
    print(f"segment queries precision@3 ({len(segments)} queries): {sum(seg_p) / len(seg_p):.3f}")


if __name__ == "__main__":
    main()
