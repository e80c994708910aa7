"""Brief in, checked copy out, recorded in the ``copy`` table: the stage's one entry point.

Whatever writer runs, its variants pass :func:`adseed.copy.base.problems` before
anything is stored. A run already in the table (same brief hash, writer id,
placement, seed and number of variants) is read back instead of written again: that
is what makes copy reproducible even from a model that is not deterministic, and
what keeps the table free of duplicates.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from adseed.copy.base import MAX_VARIANTS, CopyVariant, CopyWriter, problems
from adseed.copy.brief import Brief, load_brief, parse_brief
from adseed.copy.placements import Placement, get_placement
from adseed.copy.store import find_run, run_id, save_run
from adseed.errors import BackendError, InvalidInput
from adseed.storage.tables import Tables

BriefLike = Brief | str | os.PathLike[str] | Mapping[str, Any]


@dataclass(frozen=True)
class CopyRun:
    """The variants of one placement for one brief, and where they came from."""

    brief_sha256: str
    product: str
    placement: str
    writer_id: str
    seed: int
    variants: tuple[CopyVariant, ...]
    reused: bool  # True: read back from the table, not written now

    def to_dict(self) -> dict[str, Any]:
        return {
            "brief_sha256": self.brief_sha256,
            "product": self.product,
            "placement": self.placement,
            "writer": self.writer_id,
            "seed": self.seed,
            "reused": self.reused,
            "variants": [{"variant": i, **v.to_dict()} for i, v in enumerate(self.variants)],
        }


def as_brief(brief: BriefLike) -> Brief:
    """A checked :class:`Brief` from a Brief, a file path, or parsed data."""
    if isinstance(brief, Brief):
        return brief
    if isinstance(brief, Mapping):
        return parse_brief(brief)
    return load_brief(brief)


def placements_for(brief: Brief, placement: str | None) -> list[Placement]:
    """The one placement asked for, else every placement the brief names."""
    names = [placement] if placement else list(brief.placements)
    return [get_placement(name) for name in names]


def write_copy(brief: Brief, placement: Placement, n: int, seed: int,
               writer: CopyWriter) -> list[CopyVariant]:
    """Run ``writer`` and hold its output to the contract; stores nothing."""
    if not 1 <= n <= MAX_VARIANTS:
        raise InvalidInput(f"variants must be between 1 and {MAX_VARIANTS}, got {n}")
    variants = writer.write(brief, placement, n, seed)
    if len(variants) != n:
        raise BackendError(f"copy writer {writer.writer_id} returned {len(variants)} "
                           f"variants instead of {n}")
    found = problems(variants, brief, placement)
    if found:
        raise BackendError(f"copy writer {writer.writer_id} returned copy that breaks "
                           f"{placement.name}'s rules: " + "; ".join(found[:5]))
    return variants


def run_copy(tables: Tables, brief: Brief, placement: Placement, n: int, seed: int,
             writer: CopyWriter) -> CopyRun:
    """The run's variants: from the table when it holds this run, else written and stored."""
    rid = run_id(brief.sha256, writer.writer_id, placement.name, seed, n)
    stored = find_run(tables, rid)
    if stored is not None and len(stored) == n:
        return CopyRun(brief.sha256, brief.product, placement.name, writer.writer_id, seed,
                       tuple(stored), reused=True)
    variants = write_copy(brief, placement, n, seed, writer)
    meta = {
        "brief_sha256": brief.sha256,
        "product": brief.product,
        "writer": writer.name,
        "writer_id": writer.writer_id,
        "placement": placement.name,
        "language": brief.language,
        "seed": seed,
        "brief_json": json.dumps(brief.to_dict(), sort_keys=True, ensure_ascii=False),
    }
    save_run(tables, rid, meta, variants)
    return CopyRun(brief.sha256, brief.product, placement.name, writer.writer_id, seed,
                   tuple(variants), reused=False)


def headline_and_cta(brief: BriefLike, placement: str | None = None, *, seed: int = 0,
                     writer: CopyWriter | None = None) -> tuple[str, str]:
    """The headline and call to action of a brief's first variant, for ``adseed generate``.

    For ``adseed generate --brief FILE``: the image's headline and CTA come from the
    brief without a workspace, a model or the network (the offline template writer
    unless ``writer`` is given), the same for the same brief and seed. ``placement``
    defaults to the brief's first one; it matters because limits differ (a
    ``google-rsa`` headline is at most 30 characters, a ``meta-feed`` one 40).
    Bad briefs raise :class:`~adseed.copy.brief.InvalidBrief` (an ``InvalidInput``).
    """
    from adseed.copy.template import TemplateWriter

    checked = as_brief(brief)
    target = placements_for(checked, placement)[0]
    first = write_copy(checked, target, 1, seed, writer or TemplateWriter())[0]
    return first.headline, first.cta
