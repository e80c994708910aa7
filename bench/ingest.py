"""Ingest throughput on the real photos in ../shared/datasets/pets.

Usage: ``python bench/ingest.py [--limit N] [--commit-every N]``

Ingests straight from the shared folder into a fresh temporary workspace and prints
images/s side by side for: a first run (everything new) with the default number of
staging threads and with one, and a second run over the same files (everything a
duplicate); then how long reading, hashing and checking + decoding take alone, so the
rest of the first run is staging (fsync), Delta commits and publishing. Skips with a
message when the datasets are absent.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import tempfile
import time
from pathlib import Path

from adseed.config import resolve_settings
from adseed.storage import ingest as ingest_module
from adseed.storage.imagecheck import check_image
from adseed.storage.sources import iter_sources, read_source
from adseed.workspace import Workspace

PETS = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "pets"


def _files(limit: int | None) -> list[Path]:
    files = sorted(p for p in PETS.rglob("*") if p.is_file() and not p.name.startswith("."))
    return files[:limit] if limit else files


def _timed(fn) -> tuple[float, object]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def _steps(files: list[Path], home: Path) -> dict[str, float]:
    """Seconds spent in each step of ingest when run alone over the same files."""
    settings = resolve_settings({"home": home}, env={})
    sources = [s for s in iter_sources(files, exclude=home) if s.reason is None]
    t_read, blobs = _timed(lambda: [read_source(s.path, settings.max_file_bytes) for s in sources])
    t_hash, _ = _timed(lambda: [hashlib.sha256(b).hexdigest() for b in blobs])
    t_check, _ = _timed(
        lambda: [
            check_image(b, max_pixels=settings.max_pixels, max_file_bytes=settings.max_file_bytes)
            for b in blobs
        ]
    )
    return {"read": t_read, "sha256": t_hash, "check+decode": t_check}


def _ingest_fresh(files: list[Path], root: Path, commit_every: int, threads: int):
    """One first-time ingest into a new workspace, with ``threads`` staging writers."""
    ingest_module._STAGE_THREADS = threads  # the knob under test; not a setting on purpose
    settings = resolve_settings({"home": root, "ingest_commit_every": commit_every}, env={})
    ws = Workspace.init(settings)
    seconds, report = _timed(lambda: ws.ingest(files, "main.bench.pets"))
    return ws, seconds, report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=None, help="ingest only the first N files")
    parser.add_argument("--commit-every", type=int, default=256, help="files per Delta commit")
    args = parser.parse_args(argv)
    if not PETS.is_dir():
        print(f"skipped: shared datasets not found at {PETS}")
        return 0
    files = _files(args.limit)
    default_threads = ingest_module._STAGE_THREADS
    with tempfile.TemporaryDirectory(prefix="adseed-bench-") as tmp:
        _, serial_s, _ = _ingest_fresh(files, Path(tmp) / "serial", args.commit_every, 1)
        ws, first_s, first = _ingest_fresh(
            files, Path(tmp) / "ws", args.commit_every, default_threads
        )
        again_s, again = _timed(lambda: ws.ingest(files, "main.bench.pets"))
        steps = _steps(files, Path(tmp) / "steps")
    n = len(files)
    print(f"files: {n} from {PETS} (commit every {args.commit_every})")
    print(f"first run : {first.summary()}; {first.commits} commits")
    print(f"            {first_s:.2f} s, {n / first_s:.1f} images/s")
    print(f"  same with 1 staging thread instead of {default_threads}: {n / serial_s:.1f} images/s")
    print(f"  ratio {default_threads} threads / 1 thread: {serial_s / first_s:.2f}x")
    print(f"second run: {again.summary()}")
    print(f"            {again_s:.2f} s, {n / again_s:.1f} images/s (all duplicates)")
    print(f"  ratio second / first: {first_s / again_s:.1f}x faster")
    for step, seconds in steps.items():
        print(f"  {step:<13} alone: {seconds:.2f} s ({100 * seconds / first_s:.0f}% of first run)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
