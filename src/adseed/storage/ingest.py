"""Ingest: copy accepted images into a volume and mirror each in the Delta table ``assets``.

The stage is a batch job over folders nobody vetted, so it skips a bad file with one
reason (``on_reject``) and goes on; it is idempotent by content hash (a re-run adds no
rows and copies no files); and it never leaves anything partial, even when killed:
files are staged, journalled, committed to Delta in batches and only then published
(see :mod:`adseed.storage.journal`). ``remove_assets``, the inverse, lives in
:mod:`adseed.storage.remove` and is re-exported here for the workspace facade.

Dedupe is per volume (the same photo may be a seed in one volume and a brand image in
another); the ``volume`` column holds the ``catalog.schema.volume`` name. Files land
flat in the volume under their own sanitised name; which entries of a folder are
candidates at all is decided in :mod:`adseed.storage.sources`.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa

from adseed.config import Settings
from adseed.errors import InvalidInput, InvalidName, RejectedFile
from adseed.progress import ProgressFactory, no_progress
from adseed.storage.imagecheck import ImageInfo, check_image
from adseed.storage.journal import (
    Entry,
    RecoveryReport,
    crash_point,
    drop_empty_staging,
    recover,
    recover_locked,
    volume_lock,
    write_manifest,
)
from adseed.storage.remove import RemoveReport, remove_assets
from adseed.storage.sources import Source, iter_sources, read_source
from adseed.storage.tables import ASSETS, Tables
from adseed.storage.volumes import (
    VolumePath,
    VolumeRef,
    VolumeStore,
    check_file_name,
    sanitize_file_name,
)

__all__ = ["IngestReport", "RemoveReport", "ingest", "recover", "remove_assets"]

KINDS = ("seed", "brand")
RejectHandler = Callable[[str, str], None]
# A batch is also committed once its pending bytes reach this, so memory stays bounded
# when ingest_commit_every is large and the files are big.
_BATCH_BYTES = 256 * 1024 * 1024
_TAG_KEY = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.:-]{0,63}")
_MAX_TAGS, _MAX_TAG_VALUE = 32, 256
# Staging fsyncs each file; its latency, not CPU, dominates ingest, so a few overlap.
_STAGE_THREADS = 4


@dataclass(frozen=True)
class Rejection:
    """A file ingest refused: the source as found (printable) and one human reason."""

    source: str
    reason: str


@dataclass(frozen=True)
class IngestReport:
    """What one ingest run did; ``paths`` are the new volume paths in input order."""

    volume: str
    paths: tuple[str, ...] = ()
    duplicate_sources: tuple[str, ...] = ()
    rejections: tuple[Rejection, ...] = ()
    commits: int = 0
    version: int | None = None  # the ``assets`` version after the last commit of this run
    recovered: RecoveryReport = field(default_factory=RecoveryReport)

    @property
    def ingested(self) -> int:
        return len(self.paths)

    @property
    def duplicates(self) -> int:
        return len(self.duplicate_sources)

    @property
    def rejected(self) -> int:
        return len(self.rejections)

    def summary(self) -> str:
        line = f"ingested {self.ingested}, duplicates {self.duplicates}, rejected {self.rejected}"
        if self.recovered:
            r = self.recovered
            line += (
                f" (recovered an interrupted run: {r.rolled_forward} completed, "
                f"{r.rolled_back} undone, {r.debris} leftovers removed)"
            )
        return line


def check_kind(kind: str) -> str:
    if kind not in KINDS:
        raise InvalidInput(f"invalid kind {kind!r}: expected one of {', '.join(KINDS)}")
    return kind


def check_tags(tags: Mapping[str, str]) -> dict[str, str]:
    """Tags become index filters and CLI output: keep keys simple and values printable."""
    if len(tags) > _MAX_TAGS:
        raise InvalidInput(f"too many tags: {len(tags)} (limit {_MAX_TAGS})")
    for key, value in tags.items():
        if not isinstance(key, str) or not _TAG_KEY.fullmatch(key):
            raise InvalidInput(
                f"invalid tag key {key!r}: use 1-64 letters, digits, '_', '.', ':' or '-'"
            )
        if not isinstance(value, str) or len(value) > _MAX_TAG_VALUE or not value.isprintable():
            raise InvalidInput(
                f"invalid value for tag {key!r}: up to {_MAX_TAG_VALUE} printable characters"
            )
    return dict(tags)


def ingest(
    volumes: VolumeStore,
    tables: Tables,
    settings: Settings,
    paths: Sequence[str | os.PathLike[str]],
    ref: VolumeRef,
    *,
    kind: str = "seed",
    tags: Mapping[str, str] | None = None,
    progress: ProgressFactory = no_progress,
    on_reject: RejectHandler | None = None,
) -> IngestReport:
    """Ingest every image under ``paths`` into volume ``ref``; see the module docstring."""
    check_kind(kind)
    tags = check_tags(tags or {})
    if isinstance(paths, str | os.PathLike):
        paths = [paths]  # one path, not a sequence of characters
    tables.open("assets")  # StateError on an uninitialised workspace, before touching disk
    with volume_lock(volumes, ref):
        recovered = recover_locked(volumes, tables, ref)
        sources = list(iter_sources(paths, exclude=settings.home))
        bar = progress(total=len(sources), desc=f"ingest {ref.full_name}", unit="file")
        try:
            with _Run(volumes, tables, settings, ref, kind, tags, on_reject) as run:
                for source in sources:
                    run.add(source)
                    bar.update(1)
                run.flush()
            drop_empty_staging(volumes, ref)
        except BaseException:
            recover_locked(volumes, tables, ref)  # an error mid-batch leaves nothing partial
            raise
        finally:
            bar.close()
    return run.report(recovered)


@dataclass
class _Pending:
    staged: Future[Path]
    path: VolumePath
    sha256: str
    data: bytes
    info: ImageInfo
    source_name: str


class _Run:
    """The state of one ingest: what the volume already holds and the batch being built."""

    def __init__(
        self,
        volumes: VolumeStore,
        tables: Tables,
        settings: Settings,
        ref: VolumeRef,
        kind: str,
        tags: dict[str, str],
        on_reject: RejectHandler | None,
    ) -> None:
        self.volumes, self.tables, self.settings, self.ref = volumes, tables, settings, ref
        self.kind, self.tags, self.on_reject = kind, tags, on_reject
        known = tables.read(
            "assets", columns=["path", "sha256"], filters=[("volume", "=", ref.full_name)]
        )
        self.shas: set[str] = set(known.column("sha256").to_pylist())
        self.taken: set[str] = {p.casefold() for p in known.column("path").to_pylist()}
        folder = volumes.volume_dir(ref)
        self.taken |= {str(ref.file_path(n)).casefold() for n in _plain_names(folder)}
        self.pending: list[_Pending] = []
        self.pending_bytes = 0
        self.paths: list[str] = []
        self.duplicates: list[str] = []
        self.rejections: list[Rejection] = []
        self.commits = 0
        self.version: int | None = None
        self._pool = ThreadPoolExecutor(_STAGE_THREADS, thread_name_prefix="adseed-stage")

    def __enter__(self) -> _Run:
        return self

    def __exit__(self, *exc: object) -> None:
        """Wait for staging writes in flight, so recovery never races a thread still writing."""
        self._pool.shutdown(wait=True, cancel_futures=True)

    def add(self, source: Source) -> None:
        """Read, dedupe, check and stage one candidate; commit when the batch is full."""
        try:
            if source.reason:
                raise RejectedFile(source.reason)
            data = read_source(source.path, self.settings.max_file_bytes)
            sha = hashlib.sha256(data).hexdigest()
            if sha in self.shas:
                self.duplicates.append(source.display)
                return
            info = check_image(
                data,
                max_pixels=self.settings.max_pixels,
                max_file_bytes=self.settings.max_file_bytes,
            )
        except RejectedFile as exc:
            self._reject(source, str(exc))
            return
        self.shas.add(sha)
        path = self._claim(source.name, sha, info)
        staged = self._pool.submit(self.volumes.stage, self.ref, data)
        self.pending.append(_Pending(staged, path, sha, data, info, source.name))
        self.pending_bytes += len(data)
        crash_point("staged")
        if (
            len(self.pending) >= self.settings.ingest_commit_every
            or self.pending_bytes >= _BATCH_BYTES
        ):
            self.flush()

    def flush(self) -> None:
        """Journal, commit and publish the pending batch (the order is the crash protocol)."""
        if not self.pending:
            return
        staged = [p.staged.result() for p in self.pending]  # durable before the manifest
        entries = [
            Entry(f.name, str(p.path), p.sha256) for f, p in zip(staged, self.pending, strict=True)
        ]
        manifest = write_manifest(self.volumes, self.ref, "ingest", entries)
        crash_point("manifest")
        self.version = self.tables.append("assets", self._rows())
        self.commits += 1
        crash_point("committed")
        for f, p in zip(staged, self.pending, strict=True):
            self.volumes.publish(f, p.path)
            self.paths.append(str(p.path))
            crash_point("published")
        manifest.unlink()
        self.pending, self.pending_bytes = [], 0

    def report(self, recovered: RecoveryReport) -> IngestReport:
        return IngestReport(
            volume=self.ref.full_name,
            paths=tuple(self.paths),
            duplicate_sources=tuple(self.duplicates),
            rejections=tuple(self.rejections),
            commits=self.commits,
            version=self.version,
            recovered=recovered,
        )

    def _reject(self, source: Source, reason: str) -> None:
        self.rejections.append(Rejection(source.display, reason))
        if self.on_reject is not None:
            self.on_reject(source.display, reason)

    def _claim(self, source_name: str, sha: str, info: ImageInfo) -> VolumePath:
        """The source's own (sanitised) name, suffixed only if another file already has it."""
        name = sanitize_file_name(source_name)
        try:
            check_file_name(name)
        except InvalidName:
            name = f"asset-{sha[:12]}.{info.format.lower()}"
        stem, dot, ext = name.rpartition(".")
        if not dot or not stem:
            stem, ext = name, ""
        candidate, n = name, 1
        while str(self.ref.file_path(candidate)).casefold() in self.taken:
            n += 1
            candidate = f"{stem}-{n}.{ext}" if ext else f"{stem}-{n}"
        path = self.ref.file_path(candidate)
        self.taken.add(str(path).casefold())
        return path

    def _rows(self) -> pa.Table:
        now = datetime.now(UTC)
        tags = list(self.tags.items())
        rows = [
            {
                "path": str(p.path),
                "volume": self.ref.full_name,
                "sha256": p.sha256,
                "content": p.data,
                "size_bytes": len(p.data),
                "width": p.info.width,
                "height": p.info.height,
                "format": p.info.format,
                "kind": self.kind,
                "tags": tags,
                "source_name": p.source_name,
                "ingested_at": now,
            }
            for p in self.pending
        ]
        return pa.Table.from_pylist(rows, schema=ASSETS)


def _plain_names(folder: Path) -> list[str]:
    """Names already present in the volume's top folder (files nobody may overwrite)."""
    try:
        return [n for n in os.listdir(folder) if not n.startswith(".")]
    except FileNotFoundError:
        return []
