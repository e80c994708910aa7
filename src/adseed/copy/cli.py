"""``adseed copy``: a brief in, the words of the ad out, per placement and variant."""

from __future__ import annotations

import json
from pathlib import Path

import click

from adseed.cli import _edge, _workspace
from adseed.copy.base import MAX_VARIANTS, available_writers
from adseed.copy.placements import PLACEMENTS
from adseed.copy.service import CopyRun

_SHOWN = ("headline", "title", "description", "cta", "image_suggestion", "business_name")


@click.command("copy")
@click.argument("brief", type=click.Path(path_type=Path))
@click.option("--placement", type=click.Choice(list(PLACEMENTS)), default=None,
              help="One placement (default: every placement the brief names).")
@click.option("--variants", "n", type=click.IntRange(1, MAX_VARIANTS), default=None,
              help="Variants per placement (default: settings' copy_variants, 3).")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Same brief, writer and seed: same copy.")
@click.option("--writer", default=None,
              help=f"Copy writer (default: settings' copy_writer); "
                   f"registered: {', '.join(sorted(available_writers()))}.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line per placement.")
@click.pass_context
@_edge
def _copy(ctx: click.Context, brief: Path, placement: str | None, n: int | None,
                 seed: int, writer: str | None, as_json: bool) -> None:
    """Write ad copy for BRIEF (JSON or YAML) within each placement's limits.

    Every variant has a headline, title, description, cta and image_suggestion (a
    picture description usable as the segment text of `adseed generate`), and is
    stored in the Delta table `copy` with the brief's hash.
    """
    ws = _workspace(ctx)
    for run in ws.write_copy(brief, placement=placement, variants=n, seed=seed, writer=writer):
        if as_json:
            click.echo(json.dumps(run.to_dict(), ensure_ascii=False))
        else:
            _print_run(run)


# Annotated so the type is known without inferring it through the import cycle with
# adseed.cli (which registers this command and lends it _edge and _workspace).
copy_command: click.Command = _copy


def _print_run(run: CopyRun) -> None:
    origin = "from the copy table" if run.reused else "new"
    click.echo(f"# {run.placement} · {run.writer_id} · seed {run.seed} · "
               f"brief {run.brief_sha256[:12]} · {origin}")
    for index, variant in enumerate(run.variants, start=1):
        values = variant.to_dict()
        for i, name in enumerate(f for f in _SHOWN if f in values):
            prefix = f"[{index}] " if i == 0 else "    "
            click.echo(f"{prefix}{name}: {values[name]}")
