"""Helpers shared by the bench scripts: the shared photo catalogue and a scratch workspace."""

from __future__ import annotations

import csv
import os
import shutil
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

from adseed.config import resolve_settings
from adseed.workspace import Workspace

DATASETS = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"


def require_datasets() -> Path:
    if not (DATASETS / "labels.csv").is_file():
        sys.exit(f"skipped: the shared photo catalogue is not at {DATASETS}")
    return DATASETS


def labelled_rows(kinds: tuple[str, ...] = ("pet", "scene")) -> list[dict[str, str]]:
    with (require_datasets() / "labels.csv").open() as fh:
        return [r for r in csv.DictReader(fh) if r["kind"] in kinds]


def anonymised_copies(rows: list[dict[str, str]], target: Path) -> dict[str, dict[str, str]]:
    """Copy photos under label-free names (img_00001.jpg …); returns copy name → its row.

    Retrieval is then judged on pixels alone: no file name carries the breed.
    """
    target.mkdir(parents=True, exist_ok=True)
    mapping = {}
    for i, row in enumerate(rows):
        src = DATASETS / row["path"]
        name = f"img_{i:05d}{src.suffix.lower()}"
        shutil.copyfile(src, target / name)
        mapping[name] = row
    return mapping


@contextmanager
def scratch_workspace(**flags):
    with tempfile.TemporaryDirectory(prefix="adseed-bench-") as tmp:
        settings = resolve_settings({"home": Path(tmp) / "ws", **flags})
        yield Workspace.init(settings), Path(tmp)


def cores() -> str:
    return f"{len(os.sched_getaffinity(0))} cores"
