"""rm: delete assets by volume path (files, ``assets`` rows, ``asset_embeddings`` rows).

The inverse of ingest, journalled the same way (see :mod:`adseed.storage.journal`):
every path is checked before anything changes, files are moved into staging first,
the row deletes are one ``assets`` commit for all paths, and only then is the trash
unlinked, so a kill at any point is rolled back or forward by recovery.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterable
from contextlib import ExitStack, suppress
from dataclasses import dataclass

from adseed.errors import InvalidInput, NotFound
from adseed.storage.journal import (
    Entry,
    committed_rows,
    crash_point,
    delete_rows,
    drop_empty_staging,
    recover_locked,
    volume_lock,
    write_manifest,
)
from adseed.storage.sources import display
from adseed.storage.tables import Tables
from adseed.storage.volumes import VolumePath, VolumeRef, VolumeStore


@dataclass(frozen=True)
class RemoveReport:
    """What one rm did: the volume paths removed and the embedding rows deleted with them."""

    paths: tuple[str, ...] = ()
    embeddings_removed: int = 0

    @property
    def removed(self) -> int:
        return len(self.paths)

    def summary(self) -> str:
        return f"removed {self.removed} assets, {self.embeddings_removed} embedding rows"


def remove_assets(volumes: VolumeStore, tables: Tables, paths: Iterable[str]) -> RemoveReport:
    """Delete assets by volume path: files, ``assets`` rows and ``asset_embeddings`` rows.

    Every path is checked before anything changes, so one bad path deletes nothing.
    The row deletes are one ``assets`` commit for all paths (the point of no return),
    followed by the embeddings delete, which recovery re-issues if it was interrupted.
    """
    targets = _parse_targets(paths)
    refs = sorted({t.volume for t in targets})
    missing = [r for r in refs if not volumes.volume_dir(r).is_dir()]
    if missing:
        raise NotFound(f"no such volume: {', '.join(r.full_name for r in missing)}")
    with ExitStack() as stack:
        for ref in refs:
            stack.enter_context(volume_lock(volumes, ref))
            recover_locked(volumes, tables, ref)
        shas = _known_shas(volumes, tables, targets)
        try:
            embeddings = _remove(volumes, tables, targets, shas)
        except BaseException:
            for ref in refs:
                recover_locked(volumes, tables, ref)
            raise
    return RemoveReport(tuple(str(t) for t in targets), embeddings)


def _parse_targets(paths: Iterable[str]) -> list[VolumePath]:
    if isinstance(paths, str):
        paths = [paths]
    targets = sorted({VolumePath.parse(p) for p in paths})  # InvalidPath on any bad one
    if not targets:
        raise InvalidInput("nothing to remove: give at least one volume path")
    return targets


def _known_shas(volumes: VolumeStore, tables: Tables, targets: list[VolumePath]) -> dict[str, str]:
    """Each target's sha256 from ``assets``; NotFound if any is not an asset."""
    for t in targets:
        volumes.disk_path(t)  # InvalidPath if a link in the volume would lead outside it
    found = dict(committed_rows(tables, [str(t) for t in targets]))
    unknown = [display(str(t)) for t in targets if str(t) not in found]
    if unknown:
        shown = ", ".join(unknown[:5]) + (
            f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
        )
        raise NotFound(f"not an asset: {shown}; nothing was removed")
    return found


def _remove(
    volumes: VolumeStore, tables: Tables, targets: list[VolumePath], shas: dict[str, str]
) -> int:
    """Journal, trash, commit the deletes, then unlink; the order is the crash protocol."""
    plan: dict[VolumeRef, list[tuple[VolumePath, Entry]]] = {}
    for t in targets:
        entry = Entry(f"trash-{uuid.uuid4().hex}.tmp", str(t), shas[str(t)])
        plan.setdefault(t.volume, []).append((t, entry))
    manifests = [
        write_manifest(volumes, ref, "rm", [e for _, e in items]) for ref, items in plan.items()
    ]
    for ref, items in plan.items():
        staging = volumes.staging_dir(ref)
        for target, entry in items:
            # A row without its file (FileNotFoundError): removing the row is all there is to do.
            with suppress(FileNotFoundError):
                os.replace(volumes.disk_path(target), staging / entry.staged)
            crash_point("trashed")
    delete_rows(tables, "assets", [str(t) for t in targets])
    crash_point("rm-committed")
    embeddings = delete_rows(tables, "asset_embeddings", [str(t) for t in targets])
    for ref, items in plan.items():
        for _, entry in items:
            (volumes.staging_dir(ref) / entry.staged).unlink(missing_ok=True)
    for manifest in manifests:
        manifest.unlink()
    for ref in plan:
        drop_empty_staging(volumes, ref)
    return embeddings
