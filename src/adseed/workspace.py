"""The one module that wires the stages: storage → embed → index → search, under governance.

``Workspace`` is the Python API behind every CLI command and HTTP endpoint. It acts
for one principal (``ws.principal``); every operation asks governance once whether
that principal may do it, and the answer is audited, so the same rules hold wherever
the call comes from. Each stage lives in its own package and receives what it needs
through its arguments; nothing here does more than check, choose the pieces and pass
them along.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from adseed.config import Settings, resolve_settings
from adseed.embed.base import Embedder, build_embedder
from adseed.errors import NotFound, PermissionDenied, StateError
from adseed.governance.metastore import Principal
from adseed.governance.securables import Privilege, Securable
from adseed.governance.service import Governance
from adseed.progress import ProgressFactory, no_progress
from adseed.storage.tables import Tables
from adseed.storage.volumes import VolumePath, VolumeRef, VolumeStore, parse_folder

W, R = Privilege.WRITE_VOLUME, Privilege.READ_VOLUME


@dataclass
class _Shared:
    """What belongs to the process, not to a principal: loaded models and the index
    handle. Every workspace made by ``acting_as`` shares them (servers bind one per
    request, and reopening the index each time cost ~2.5 ms per search)."""

    embedders: dict[str, Embedder] = field(default_factory=dict)
    index: Any = None


class Workspace:
    """A folder holding volumes, Delta tables and the vector index, seen by one principal."""

    def __init__(self, settings: Settings, principal: Principal | None = None) -> None:
        self.settings = settings
        self.volumes = VolumeStore(settings.volumes_root)
        self.tables = Tables(settings.tables_root)
        self.governance = Governance(settings.home, self.tables)
        self._principal = principal
        self._shared = _Shared()

    # -- lifecycle -------------------------------------------------------------------

    @classmethod
    def init(cls, settings: Settings | None = None, owner: str | None = None) -> Workspace:
        """Create (or upgrade) the workspace at ``settings.home``; safe to run twice."""
        settings = settings or resolve_settings()
        settings.volumes_root.mkdir(parents=True, exist_ok=True)
        ws = cls(settings)
        ws.tables.migrate()
        ws.governance.bootstrap(owner)
        return ws.as_token(settings.token or None)

    @classmethod
    def load(cls, settings: Settings | None = None) -> Workspace:
        """An initialised workspace acting for nobody yet: servers bind one per request."""
        settings = settings or resolve_settings()
        ws = cls(settings)
        if not ws.tables.applied_migrations():
            raise StateError(f"no adseed workspace at {settings.home}: run 'adseed init' first")
        ws.tables.migrate()
        ws.governance.bootstrap()  # workspaces made before governance get an owner now
        return ws

    @classmethod
    def open(cls, settings: Settings | None = None) -> Workspace:
        """Open an initialised workspace as the principal of ``settings.token``."""
        ws = cls.load(settings)
        return ws.as_token(ws.settings.token or None)

    def as_token(self, token: str | None) -> Workspace:
        """The same workspace acting for the principal a token names (owner when None)."""
        return self.acting_as(self.governance.authenticate(token))

    def acting_as(self, principal: Principal) -> Workspace:
        """The same workspace acting for ``principal``: on-behalf-of access, never more."""
        ws = Workspace(self.settings, principal)
        ws._shared = self._shared
        return ws

    @property
    def principal(self) -> Principal:
        if self._principal is None:
            raise StateError("this workspace object acts for nobody: use Workspace.open()")
        return self._principal

    @property
    def home(self) -> Path:
        return self.settings.home

    def embedder(self, name: str | None = None) -> Embedder:
        """The embedder ``name`` (default: the configured one), built once per workspace."""
        name = name or self.settings.embedder
        embedders = self._shared.embedders
        if name not in embedders:
            embedders[name] = build_embedder(name, self.settings)
        return embedders[name]

    def _require(self, action: str, privilege: Privilege, obj: Securable, target: str = "") -> None:
        self.governance.require(self.principal, action, privilege, obj, target)

    def require_table(self, action: str, privilege: Privilege, schema: str, table: str) -> None:
        """For stages that own a governed table (copy, audiences): one audited check."""
        self._require(action, privilege, Securable.table(schema, table))

    def _require_volume(self, action: str, privilege: Privilege, path: VolumePath) -> None:
        self._require(action, privilege, Securable.volume(path.volume.full_name), str(path))

    # -- stages ----------------------------------------------------------------------

    def ingest(
        self,
        paths: Sequence[str | Path],
        volume: str | VolumeRef,
        kind: str = "seed",
        tags: Mapping[str, str] | None = None,
        progress: ProgressFactory = no_progress,
        on_reject: Callable[[str, str], None] | None = None,
    ):
        """Copy accepted images into ``volume`` and mirror them in the ``assets`` table."""
        from adseed.storage.ingest import ingest

        ref = volume if isinstance(volume, VolumeRef) else VolumeRef.parse(volume)
        self._require("ingest", W, Securable.volume(ref.full_name))
        schema = f"{ref.catalog}.{ref.schema}"
        self._require("ingest", Privilege.MODIFY, Securable.table(schema, "assets"))
        self.governance.metastore.claim(Securable.volume(ref.full_name), self.principal.name)
        return ingest(
            self.volumes, self.tables, self.settings, paths, ref, kind=kind,
            tags=dict(tags or {}), progress=progress, on_reject=on_reject,
        )  # fmt: skip

    def embed(self, embedder: str | None = None, progress: ProgressFactory = no_progress):
        """Embed every asset, of the schemas this principal may embed, that has no vector yet.

        Needs SELECT on ``<schema>.assets`` and MODIFY on ``<schema>.asset_embeddings``.
        """
        from adseed.embed.batch import embed_missing

        volumes = self.volume_names()
        allowed = [v for v in volumes if self._may_embed(v)]
        if not allowed and volumes:
            raise PermissionDenied(
                f"permission denied: {self.principal.name} may embed no schema "
                "(needs SELECT on <schema>.assets and MODIFY on <schema>.asset_embeddings)"
            )
        self.governance.audit.record(
            self.principal.name, "embed", "asset_embeddings", True, f"volumes: {len(allowed)}"
        )
        model = self.embedder(embedder)
        return embed_missing(self.tables, model, self.settings, progress, volumes=allowed)

    def _may_embed(self, volume: str) -> bool:
        schema = volume.rsplit(".", 1)[0]
        authz, who = self.governance.authz, self.principal
        return authz.allowed(who, Privilege.SELECT, Securable.table(schema, "assets")) and (
            authz.allowed(who, Privilege.MODIFY, Securable.table(schema, "asset_embeddings"))
        )

    @property
    def index(self):
        if self._shared.index is None:
            from adseed.index.store import VectorIndex

            self._shared.index = VectorIndex(self.settings.index_root, self.settings)
        return self._shared.index

    def sync_index(self, progress: ProgressFactory = no_progress):
        """Bring the vector index up to date with ``asset_embeddings`` and ``assets``.

        A workspace-wide maintenance job: it needs an admin. It exposes nothing, since
        every search filters hits by what its caller may read.
        """
        from adseed.index.sync import sync_index

        self.governance.require_admin(self.principal, "index sync")
        return sync_index(self.tables, self.index, progress)

    def search(
        self,
        queries: Sequence[str],
        k: int | None = None,
        kind: str | None = None,
        embedder: str | None = None,
    ):
        """Texts → top-k volume paths with scores, only from volumes the caller may read."""
        from adseed.index.search import search

        readable = self.governance.readable_volumes(self.principal, self.volume_names())
        self.governance.audit.record(
            self.principal.name,
            "search",
            "index",
            True,
            f"kind={kind or 'any'}; readable volumes: {len(readable)}",
        )
        k = self.settings.default_k if k is None else k
        model = self.embedder(embedder)
        return search(self.index, model, queries, k, kind, volumes=readable)

    # -- files and tables ----------------------------------------------------------------

    def volume_names(self) -> list[str]:
        """Every volume that exists on disk, as ``catalog.schema.volume``."""
        root = self.settings.volumes_root
        return sorted(
            f"{c.name}.{s.name}.{v.name}" for c in _dirs(root) for s in _dirs(c) for v in _dirs(s)
        )

    def read_file(self, path: str) -> bytes:
        """The bytes of one volume file, by volume path (``/Volumes/c/s/v/name``)."""
        target = VolumePath.parse(path)
        self._require_volume("read file", R, target)
        return self.volumes.read_bytes(target)

    def write_file(self, path: str, data: bytes, overwrite: bool = True) -> str:
        """Write one volume file atomically (temp file, then rename); returns its path."""
        from adseed.errors import InvalidInput

        target = VolumePath.parse(path)
        self._require_volume("write file", W, target)
        if not overwrite and self.volumes.exists(target):
            raise InvalidInput(f"{target} exists and overwrite is off")
        self.governance.metastore.claim(
            Securable.volume(target.volume.full_name), self.principal.name
        )
        self.volumes.write_atomic(target, data)
        return str(target)

    def delete_file(self, path: str) -> None:
        """Delete one volume file; an ingested asset goes with its rows (see ``remove``)."""
        target = VolumePath.parse(path)
        self._require_volume("delete file", W, target)
        rows = self.tables.read("assets", columns=["path"], filters=[("path", "=", str(target))])
        if rows.num_rows:
            self.remove([str(target)])
        elif not self.volumes.delete(target):
            raise NotFound(f"no file at {target}")

    def list_dir(self, path: str) -> list[dict]:
        """Entries of a volume folder: name, path, is_directory, file_size, last_modified."""
        from adseed.storage.listing import list_volume_dir

        volume, parts = parse_folder(path)
        self._require("list directory", R, Securable.volume(volume.full_name), path)
        return list_volume_dir(self.volumes, volume, parts)

    def read_table(self, full_name: str, columns: Sequence[str] | None = None) -> pa.Table:
        """Rows of a governed table (``catalog.schema.table``): those of that schema only."""
        obj = Securable.parse("table", full_name)
        self._require("select", Privilege.SELECT, obj)
        physical = obj.name.rsplit(".", 1)[1]
        table = self.tables.read(physical, columns=None)
        volumes = table["volume"] if "volume" in table.column_names else _volumes_of(table)
        mine = pc.starts_with(volumes, f"{obj.schema}.")
        table = table.filter(mine)
        return table.select(list(columns)) if columns else table

    def remove(self, paths: Sequence[str]):
        """Delete assets: their files, ``assets`` rows and embedding rows (index on next sync)."""
        from adseed.storage.ingest import remove_assets

        for text in [paths] if isinstance(paths, str) else paths:
            target = VolumePath.parse(text)
            self._require_volume("remove", W, target)
            schema = f"{target.volume.catalog}.{target.volume.schema}"
            self._require("remove", Privilege.MODIFY, Securable.table(schema, "assets"), text)
        return remove_assets(self.volumes, self.tables, paths)

    def write_copy(
        self,
        brief,
        placement: str | None = None,
        variants: int | None = None,
        seed: int = 0,
        writer: str | None = None,
    ):
        """Ad copy for a brief (path, data or Brief): one run per placement, each one
        Delta commit in the ``copy`` table; a run already there is read back instead.

        Needs MODIFY on ``<copy_schema>.copy`` (the schema the copy table is governed in).
        """
        from adseed.copy.base import build_writer
        from adseed.copy.placements import business_name, button_label
        from adseed.copy.service import as_brief, placements_for, run_copy

        self.require_table("write copy", Privilege.MODIFY, self.settings.copy_schema, "copy")
        checked = as_brief(brief)
        targets = placements_for(checked, placement)
        for target in targets:  # a brief unfit for one placement fails before any run
            business_name(checked.brand, target, checked.source, checked.must_avoid)
            button_label(checked.cta, target, checked.source, checked.must_avoid)
        built = build_writer(writer or self.settings.copy_writer, self.settings)
        n = self.settings.copy_variants if variants is None else variants
        return [run_copy(self.tables, checked, p, n, seed, built) for p in targets]


def _dirs(folder: Path) -> list[Path]:
    try:
        return [p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")]
    except OSError:
        return []


def _volumes_of(table: pa.Table) -> pa.ChunkedArray:
    """``catalog.schema.volume`` of each row's ``path`` (for tables without a volume column)."""
    parts = pc.split_pattern(table["path"], "/")
    names = [".".join(p[2:5]) for p in parts.to_pylist()]
    return pa.chunked_array([pa.array(names, pa.string())])
