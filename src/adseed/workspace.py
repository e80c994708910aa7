"""The one module that wires the stages: storage → embed → index → search.

``Workspace`` is the Python API behind every CLI command. Each stage lives in its own
package and receives what it needs through its arguments; nothing here does more
than choose the pieces and pass them along.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cached_property
from pathlib import Path

from adseed.config import Settings, resolve_settings
from adseed.embed.base import Embedder, build_embedder
from adseed.errors import StateError
from adseed.progress import ProgressFactory, no_progress
from adseed.storage.tables import Tables
from adseed.storage.volumes import VolumePath, VolumeRef, VolumeStore


class Workspace:
    """A folder holding volumes, Delta tables and the vector index."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.volumes = VolumeStore(settings.volumes_root)
        self.tables = Tables(settings.tables_root)
        self._embedders: dict[str, Embedder] = {}

    # -- lifecycle -------------------------------------------------------------------

    @classmethod
    def init(cls, settings: Settings | None = None) -> Workspace:
        """Create (or upgrade) the workspace at ``settings.home``; safe to run twice."""
        settings = settings or resolve_settings()
        settings.volumes_root.mkdir(parents=True, exist_ok=True)
        ws = cls(settings)
        ws.tables.migrate()
        return ws

    @classmethod
    def open(cls, settings: Settings | None = None) -> Workspace:
        """Open an initialised workspace, applying pending migrations."""
        settings = settings or resolve_settings()
        ws = cls(settings)
        if not ws.tables.applied_migrations():
            raise StateError(f"no adseed workspace at {settings.home}: run 'adseed init' first")
        ws.tables.migrate()
        return ws

    @property
    def home(self) -> Path:
        return self.settings.home

    def embedder(self, name: str | None = None) -> Embedder:
        """The embedder ``name`` (default: the configured one), built once per workspace."""
        name = name or self.settings.embedder
        if name not in self._embedders:
            self._embedders[name] = build_embedder(name, self.settings)
        return self._embedders[name]

    # -- stages ----------------------------------------------------------------------

    def ingest(
        self,
        paths: Sequence[str | Path],
        volume: str | VolumeRef,
        kind: str = "seed",
        tags: Mapping[str, str] | None = None,
        progress: ProgressFactory = no_progress,
        on_reject=None,
    ):
        """Copy accepted images into ``volume`` and mirror them in the ``assets`` table."""
        from adseed.storage.ingest import ingest

        ref = volume if isinstance(volume, VolumeRef) else VolumeRef.parse(volume)
        return ingest(
            self.volumes,
            self.tables,
            self.settings,
            paths,
            ref,
            kind=kind,
            tags=dict(tags or {}),
            progress=progress,
            on_reject=on_reject,
        )

    def embed(self, embedder: str | None = None, progress: ProgressFactory = no_progress):
        """Embed every asset that has no vector yet for the embedder's model id."""
        from adseed.embed.batch import embed_missing

        return embed_missing(self.tables, self.embedder(embedder), self.settings, progress)

    @cached_property
    def index(self):
        from adseed.index.store import VectorIndex

        return VectorIndex(self.settings.index_root, self.settings)

    def sync_index(self, progress: ProgressFactory = no_progress):
        """Bring the vector index up to date with ``asset_embeddings`` and ``assets``."""
        from adseed.index.sync import sync_index

        return sync_index(self.tables, self.index, progress)

    def search(
        self,
        queries: Sequence[str],
        k: int | None = None,
        kind: str | None = None,
        embedder: str | None = None,
    ):
        """Texts → top-k volume paths with scores, one result list per query."""
        from adseed.index.search import search

        k = self.settings.default_k if k is None else k
        return search(self.index, self.embedder(embedder), queries, k, kind)

    def read_file(self, path: str) -> bytes:
        """The bytes of one volume file, by volume path (``/Volumes/c/s/v/name``)."""
        return self.volumes.read_bytes(VolumePath.parse(path))

    def write_file(self, path: str, data: bytes) -> str:
        """Write one volume file atomically (temp file, then rename); returns its path."""
        target = VolumePath.parse(path)
        self.volumes.write_atomic(target, data)
        return str(target)

    def remove(self, paths: Sequence[str]):
        """Delete assets: their files, ``assets`` rows and embedding rows (index on next sync)."""
        from adseed.storage.ingest import remove_assets

        return remove_assets(self.volumes, self.tables, paths)

    def write_copy(self, brief, placement: str | None = None, variants: int | None = None,
                   seed: int = 0, writer: str | None = None):
        """Ad copy for a brief (path, data or Brief): one run per placement, each one
        Delta commit in the ``copy`` table; a run already there is read back instead."""
        from adseed.copy.base import build_writer
        from adseed.copy.placements import business_name, button_label
        from adseed.copy.service import as_brief, placements_for, run_copy

        checked = as_brief(brief)
        targets = placements_for(checked, placement)
        for target in targets:  # a brief unfit for one placement fails before any run
            business_name(checked.brand, target, checked.source, checked.must_avoid)
            button_label(checked.cta, target, checked.source, checked.must_avoid)
        built = build_writer(writer or self.settings.copy_writer, self.settings)
        n = self.settings.copy_variants if variants is None else variants
        return [run_copy(self.tables, checked, p, n, seed, built) for p in targets]
