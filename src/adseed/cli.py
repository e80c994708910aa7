"""The ``adseed`` command line: parses flags, calls :class:`Workspace`, prints results.

This is an edge: it is the only place (with the HTTP server) that prints, and it
turns :class:`AdseedError` into one line on stderr and the error's exit code.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any

import click

from adseed.config import resolve_settings
from adseed.errors import AdseedError, InvalidInput
from adseed.workspace import Workspace


def _bar(*, total: int | None, desc: str, unit: str = "it"):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit=unit, disable=not sys.stderr.isatty(), leave=False)


def _edge(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Translate AdseedError into one line on stderr and its exit code."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except AdseedError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(exc.exit_code)

    return wrapper


def _settings(ctx: click.Context, **flags: Any):
    return resolve_settings({**ctx.obj, **flags})


def _workspace(ctx: click.Context, **flags: Any) -> Workspace:
    return Workspace.open(_settings(ctx, **flags))


@click.group()
@click.option("--home", type=click.Path(path_type=Path), help="Workspace folder (ADSEED_HOME).")
@click.option(
    "--token",
    default=None,
    help="API token of the acting principal (ADSEED_TOKEN); default: the workspace owner.",
)
@click.version_option(package_name="adseed")
@click.pass_context
def main(ctx: click.Context, home: Path | None, token: str | None) -> None:
    """adseed: audience segments to on-brand ad creative from the brand's own photos."""
    ctx.obj = {"home": home, "token": token}


@main.command()
@click.option("--owner", default=None, help="Name of the owner principal (default: your login).")
@click.pass_context
@_edge
def init(ctx: click.Context, owner: str | None) -> None:
    """Create the workspace (volumes, Delta tables, owner principal); safe to run again."""
    ws = Workspace.init(_settings(ctx), owner=owner)
    click.echo(f"workspace ready at {ws.home}; acting as {ws.principal.name}")


def _parse_tags(values: tuple[str, ...]) -> dict[str, str]:
    tags = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InvalidInput(f"invalid --tag {item!r}: expected KEY=VALUE")
        tags[key] = value
    return tags


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--volume", required=True, help="Target volume, CATALOG.SCHEMA.VOLUME.")
@click.option("--kind", type=click.Choice(["seed", "brand"]), default="seed", show_default=True)
@click.option("--tag", "tags", multiple=True, help="KEY=VALUE tag for every file (repeatable).")
@click.pass_context
@_edge
def ingest(ctx: click.Context, paths, volume: str, kind: str, tags: tuple[str, ...]) -> None:
    """Copy images into a volume and mirror them in the Delta table `assets`."""
    ws = _workspace(ctx)

    def on_reject(source: str, reason: str) -> None:
        click.echo(f"rejected {source}: {reason}", err=True)

    report = ws.ingest(
        paths, volume, kind=kind, tags=_parse_tags(tags), progress=_bar, on_reject=on_reject
    )
    click.echo(report.summary())


@main.command()
@click.option("--embedder", default=None, help="Embedder name (default: settings).")
@click.option("--batch-size", type=int, default=None)
@click.pass_context
@_edge
def embed(ctx: click.Context, embedder: str | None, batch_size: int | None) -> None:
    """Embed every asset that has no vector for the embedder's model id."""
    ws = _workspace(ctx, batch_size=batch_size)
    report = ws.embed(embedder, progress=_bar)
    click.echo(report.summary())


@main.group()
def index() -> None:
    """The vector index synced from `asset_embeddings`."""


@index.command("sync")
@click.pass_context
@_edge
def index_sync(ctx: click.Context) -> None:
    """Apply new, changed and deleted embedding rows to the index, by Delta version."""
    ws = _workspace(ctx)
    report = ws.sync_index(progress=_bar)
    click.echo(report.summary())


@main.command()
@click.argument("paths", nargs=-1, required=True)
@click.pass_context
@_edge
def rm(ctx: click.Context, paths: tuple[str, ...]) -> None:
    """Delete assets by volume path (file and rows; index entries at the next sync)."""
    ws = _workspace(ctx)
    report = ws.remove(list(paths))
    click.echo(report.summary())


@main.command()
@click.argument("queries", nargs=-1, required=True)
@click.option("-k", "k", type=click.IntRange(1, 1000), default=None, help="Hits per query.")
@click.option("--kind", type=click.Choice(["seed", "brand"]), default=None)
@click.option("--embedder", default=None)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line per query.")
@click.pass_context
@_edge
def search(ctx: click.Context, queries, k, kind, embedder, as_json: bool) -> None:
    """Text → top-K volume paths with scores."""
    ws = _workspace(ctx)
    for result in ws.search(list(queries), k=k, kind=kind, embedder=embedder):
        if as_json:
            click.echo(json.dumps(result.to_dict()))
        else:
            click.echo(f"# {result.query}")
            for hit in result.hits:
                click.echo(f"{hit.score:.4f}  {hit.path}")


@main.group()
def files() -> None:
    """Volume files by path, under the acting principal's grants (like the Files API)."""


@files.command("get")
@click.argument("path")
@click.option(
    "-o", "--output", type=click.Path(path_type=Path), help="Write here (default: stdout)."
)
@click.pass_context
@_edge
def files_get(ctx: click.Context, path: str, output: Path | None) -> None:
    """Read one volume file."""
    data = _workspace(ctx).read_file(path)
    if output is None:
        sys.stdout.buffer.write(data)
    else:
        output.write_bytes(data)


@files.command("put")
@click.argument("source", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("path")
@click.option("--overwrite", is_flag=True, help="Replace an existing file.")
@click.pass_context
@_edge
def files_put(ctx: click.Context, source: Path, path: str, overwrite: bool) -> None:
    """Write a local file to a volume path, atomically."""
    click.echo(_workspace(ctx).write_file(path, source.read_bytes(), overwrite=overwrite))


@files.command("ls")
@click.argument("path")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@_edge
def files_ls(ctx: click.Context, path: str, as_json: bool) -> None:
    """List a volume folder."""
    entries = _workspace(ctx).list_dir(path)
    if as_json:
        click.echo(json.dumps({"contents": entries}))
    for e in [] if as_json else entries:
        size = "-" if e["is_directory"] else str(e["file_size"])
        click.echo(f"{size:>10}  {e['path']}")


@files.command("delete")
@click.argument("path")
@click.pass_context
@_edge
def files_delete(ctx: click.Context, path: str) -> None:
    """Delete one volume file (an ingested asset goes with its rows)."""
    _workspace(ctx).delete_file(path)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=8080, show_default=True)
@click.pass_context
@_edge
def serve(ctx: click.Context, host: str, port: int) -> None:
    """Serve the HTTP API (bearer tokens; Files API under /api/2.0/fs)."""
    import uvicorn

    from adseed.serve.app import create_app

    uvicorn.run(create_app(_settings(ctx)), host=host, port=port, log_level="info")


@main.command()
@click.option("--images", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.pass_context
@_edge
def demo(ctx: click.Context, images: Path | None) -> None:
    """Run the whole path offline: init, ingest, embed, sync, example searches, one ad."""
    from adseed.demo import run_demo

    run_demo(_settings(ctx), images=images, echo=click.echo, progress=_bar)


from adseed.governance.cli import register as _register_governance  # noqa: E402

_register_governance(main)

from adseed.copy.cli import copy_command  # noqa: E402

main.add_command(copy_command)

from adseed.generate.cli import generate_command  # noqa: E402

main.add_command(generate_command)

from adseed.audience.cli import audience  # noqa: E402

main.add_command(audience)

from adseed.agent.cli import COMMANDS as _AGENT_COMMANDS  # noqa: E402

for _command in _AGENT_COMMANDS:
    main.add_command(_command)

if __name__ == "__main__":  # pragma: no cover
    main()

