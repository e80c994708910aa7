"""``adseed audience …``: events in, lookalikes, text matches, segments, simulation.

Registered on the root command by one line at the end of :mod:`adseed.cli`. Errors
are translated by the root CLI's ``_edge`` (looked up when a command runs, so this
module can be imported on its own without an import cycle).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any

import click
import pyarrow as pa


def _edge(fn: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from adseed.cli import _edge as root_edge

        return root_edge(fn)(*args, **kwargs)

    return wrapper


def _open(ctx: click.Context):
    from adseed.audience.service import Audience
    from adseed.cli import _workspace

    return Audience.open(_workspace(ctx))


@click.group()
def audience() -> None:
    """Audiences from behaviour: user vectors, lookalikes, segments."""


@audience.command("ingest-events")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["parquet", "csv", "jsonl"]), default=None)
@click.pass_context
@_edge
def ingest_events(ctx: click.Context, file: Path, fmt: str | None) -> None:
    """Append events (user_id, item, event, ts) from Parquet, CSV or JSON Lines.

    Items are volume paths of ingested assets; events are view, click or purchase;
    ts is ISO 8601 or epoch seconds. Each bad row is rejected with one line on stderr
    and the valid rows are kept.
    """
    aud = _open(ctx)

    def on_reject(where: str, reason: str) -> None:
        click.echo(f"rejected {file.name} {where}: {reason}", err=True)

    report = aud.ingest_events(file, fmt=fmt, on_reject=on_reject)
    aud.checkpoint()
    click.echo(report.summary())


@audience.command()
@click.argument("user_id")
@click.option("-k", "k", type=click.IntRange(1, 10_000), default=5, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object.")
@click.pass_context
@_edge
def similar(ctx: click.Context, user_id: str, k: int, as_json: bool) -> None:
    """The K users most similar to USER_ID (lookalikes), with cosine scores."""
    aud = _open(ctx)
    found = aud.similar(user_id, k)
    aud.checkpoint()
    if as_json:
        click.echo(json.dumps({"user_id": user_id, "similar": [m.to_dict() for m in found]}))
        return
    for m in found:
        click.echo(f"{m.score:.4f}  {m.user_id}")


@audience.command()
@click.argument("texts", nargs=-1, required=True)
@click.option("-k", "k", type=click.IntRange(1, 10_000), default=100, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per text.")
@click.pass_context
@_edge
def match(ctx: click.Context, texts: tuple[str, ...], k: int, as_json: bool) -> None:
    """Users nearest to a text ("dog owners who love the outdoors"): one shared space."""
    aud = _open(ctx)
    results = aud.match(list(texts), k)
    aud.checkpoint()
    for text, found in zip(texts, results, strict=True):
        if as_json:
            click.echo(json.dumps({"query": text, "users": [m.to_dict() for m in found]}))
            continue
        click.echo(f"# {text}")
        for m in found:
            click.echo(f"{m.score:.4f}  {m.user_id}")


@audience.command()
@click.option("--k", "k", type=click.IntRange(2, 1000), default=None, help="Make K new segments.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per segment.")
@click.pass_context
@_edge
def segments(ctx: click.Context, k: int | None, seed: int, as_json: bool) -> None:
    """Cluster users into K named segments (--k), or list the latest segments."""
    from adseed.audience.segments import discover_segments, list_segments

    if k is None:
        from adseed.cli import _workspace

        found = list_segments(_workspace(ctx).tables)
        if not found and not as_json:
            click.echo("no segments yet: run 'adseed audience segments --k N'", err=True)
    else:
        aud = _open(ctx)
        found = discover_segments(aud, k, seed=seed).segments
        aud.checkpoint()
    for seg in found:
        if as_json:
            click.echo(json.dumps(seg.to_dict()))
        else:
            terms = "; ".join(seg.terms[:3])
            size = f"{seg.size} users ({seg.share:.1%})"
            click.echo(f"{seg.segment_id}\t{size}\t{seg.description}\t[{terms}]")


@audience.command()
@click.argument("segment_id")
@click.option("--limit", type=click.IntRange(1), default=None, help="At most this many users.")
@click.pass_context
@_edge
def members(ctx: click.Context, segment_id: str, limit: int | None) -> None:
    """The user ids of a segment, closest to its centre first."""
    from adseed.audience.segments import segment_members, segment_text
    from adseed.cli import _workspace

    ws = _workspace(ctx)
    segment_text(ws, segment_id)  # NotFound for an unknown id
    for user in segment_members(ws.tables, segment_id)[:limit]:
        click.echo(user)


@audience.command()
@click.option("--users", type=click.IntRange(1, 10_000_000), required=True)
@click.option("--items-from", "volume", required=True, help="CATALOG.SCHEMA.VOLUME")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--events-per-user", type=float, default=20.0, show_default=True)
@click.option("--days", type=float, default=60.0, show_default=True)
@click.option("--focus", type=float, default=0.8, show_default=True, help="Share on-interest.")
@click.option("--drift", type=float, default=0.2, show_default=True, help="Share who changed.")
@click.option("--interest-by", default="auto", show_default=True, help="auto|name|tag:KEY|cluster")
@click.option(
    "--activity",
    type=click.Choice(["poisson", "heavy"]),
    default="poisson",
    show_default=True,
    help="Events per user: narrow, or heavy-tailed (log-normal) like real logs.",
)
@click.option(
    "--item-popularity",
    type=click.FloatRange(0, 3),
    default=0.0,
    show_default=True,
    help="Zipf exponent of item popularity that every pick follows (0: uniform).",
)
@click.option("--truth-out", type=click.Path(path_type=Path), help="CSV of user_id,interest.")
@click.option("--events-out", type=click.Path(path_type=Path), help="Write events, not ingest.")
@click.pass_context
@_edge
def simulate(ctx: click.Context, **opts: Any) -> None:
    """Seeded synthetic events whose hidden user interests are known."""
    from adseed.audience.simulate import SimulationSpec
    from adseed.audience.simulate import simulate as run_simulation

    truth_out, events_out = opts.pop("truth_out"), opts.pop("events_out")
    spec = SimulationSpec(**opts)
    aud = _open(ctx)
    sim = run_simulation(aud.tables, spec, aud.raw_items())
    n = sim.events.num_rows
    line = f"simulated {n} events of {spec.users} users over {len(sim.groups)} interests"
    line += f" (by {sim.grouping}) from {spec.volume}"
    if events_out is not None:
        write_events(sim.events, events_out)
        line += f"; events written to {events_out}"
    else:
        report = aud.ingest_table(sim.events, f"simulate seed={spec.seed}")
        aud.checkpoint()
        line += "; " + report.summary()
    if truth_out is not None:
        with Path(truth_out).open("w", newline="") as fh:
            out = csv.writer(fh)
            out.writerow(["user_id", "interest"])
            out.writerows(sorted(sim.truth.items()))
        line += f"; truth in {truth_out}"
    click.echo(line)


def write_events(events: pa.Table, path: Path) -> None:
    """Events to Parquet, CSV or JSON Lines by extension (timestamps as ISO 8601 text)."""
    from adseed.audience.events import sniff_format

    fmt = sniff_format(path, None)
    if fmt == "parquet":
        import pyarrow.parquet as pq

        pq.write_table(events, path)
        return
    rows = events.to_pylist()
    with path.open("w", newline="") as fh:
        if fmt == "csv":
            out = csv.writer(fh)
            out.writerow(["user_id", "item", "event", "ts"])
            out.writerows([r["user_id"], r["item"], r["event"], r["ts"].isoformat()] for r in rows)
        else:
            for r in rows:
                fh.write(json.dumps({**r, "ts": r["ts"].isoformat()}) + "\n")


@audience.command()
@click.pass_context
@_edge
def rebuild(ctx: click.Context) -> None:
    """Recompute every user vector from the tables and save the index."""
    aud = _open(ctx)
    done = aud.rebuild("requested")
    click.echo(f"rebuilt: {done.users} users from {done.events} events ({aud.index.kind})")


@audience.command()
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@_edge
def status(ctx: click.Context, as_json: bool) -> None:
    """Users, index kind, items with vectors, and the Delta version folded in."""
    aud = _open(ctx)
    aud.checkpoint()
    info = aud.status()
    if as_json:
        click.echo(json.dumps(info))
        return
    for key, value in info.items():
        click.echo(f"{key}: {value}")
