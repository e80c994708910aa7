"""``adseed generate``: segment text → top-3 seed photos → optionally an ad in a volume."""

from __future__ import annotations

import json

import click

from adseed.cli import _edge, _workspace
from adseed.errors import InvalidInput
from adseed.generate.base import DEFAULT_FORMAT, FORMATS


@click.command("generate")
@click.argument("segment_text", required=False)
@click.option(
    "--segment-id",
    default=None,
    help="Use a discovered audience segment's description as the text (adseed audience segments).",
)
@click.option(
    "--brief",
    "brief",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="A product brief (JSON/YAML): its headline and call to action go on the ad.",
)
@click.option(
    "--seed-index",
    type=int,
    default=0,
    show_default=True,
    help="Which of the three retrieved seeds to use: 0, 1 or 2.",
)
@click.option(
    "--generate",
    "do_generate",
    is_flag=True,
    help="Make the ad (default: only retrieve the candidates).",
)
@click.option(
    "--brand",
    default=None,
    help="Volume path of the brand image (default: the one asset of kind brand).",
)
@click.option(
    "--backend", default=None, help="Generation backend (default: settings' generator, compositor)."
)
@click.option(
    "--format",
    "fmt",
    default=DEFAULT_FORMAT,
    show_default=True,
    help=f"Ad size: {', '.join(FORMATS)}.",
)
@click.option("--headline", default=None, help="Headline (default: 'For <segment text>').")
@click.option("--cta", default=None, help="Call to action (default: 'Shop now').")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_context
@_edge
def _generate(ctx: click.Context, segment_text: str | None, segment_id: str | None,
              brief: str | None, seed_index: int, do_generate: bool, brand: str | None,
              backend: str | None, fmt: str, headline: str | None, cta: str | None,
              as_json: bool) -> None:  # fmt: skip
    """Retrieve the top-3 seed photos for SEGMENT_TEXT and, with --generate, compose the ad.

    The three candidates are remembered for the text, so --seed-index 1 and 2 reuse
    them without a new vector query. The ad is written to the volume
    <catalog>.<schema>.generated of the seed and recorded in the Delta table
    `generations` with its scores; the request is one MLflow trace in the workspace.
    """
    from adseed.generate.service import generate_ad

    ws = _workspace(ctx)
    segment_text = _segment_text(ws, segment_text, segment_id)
    if brief is not None:
        from adseed.copy.service import headline_and_cta

        brief_headline, brief_cta = headline_and_cta(brief)
        headline, cta = headline or brief_headline, cta or brief_cta
    result = generate_ad(
        ws, segment_text, seed_index=seed_index, generate=do_generate,
        brand=brand, backend=backend, fmt=fmt, headline=headline, cta=cta,
    )  # fmt: skip
    if as_json:
        click.echo(json.dumps(result.to_dict()))
        return
    source = "remembered" if result.reused_candidates else "retrieved"
    click.echo(f"candidates ({source}):")
    for i, path in enumerate(result.candidates):
        click.echo(f"{'*' if i == result.seed_index else ' '} {i}  {path}")
    if result.image_path:
        click.echo(f"ad: {result.image_path}")
        scores = result.scores or {}
        click.echo("scores: " + ", ".join(f"{k} {v:.3f}" for k, v in scores.items()))
    click.echo(f"trace: {result.trace_id}")


def _segment_text(ws, text: str | None, segment_id: str | None) -> str:
    """Exactly one of SEGMENT_TEXT and --segment-id; a segment id becomes its description."""
    if (text is None) == (segment_id is None):
        raise InvalidInput("give either SEGMENT_TEXT or --segment-id (exactly one)")
    if segment_id is None:
        return str(text)
    from adseed.audience import segment_text

    return segment_text(ws, segment_id)


# Annotated so mypy knows the type without inferring it through the import cycle with
# adseed.cli (which registers this command and lends it _edge and _workspace).
generate_command: click.Command = _generate
