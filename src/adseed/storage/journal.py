"""Crash safety for a volume: one writer at a time, batch manifests, and recovery.

A volume file and its ``assets`` row are two writes to two systems, so a process
killed between them (SIGKILL, power loss) would leave a row without its file or a
file without its row. Every batch is therefore journalled in the volume's hidden
``.staging`` folder:

* ingest: bytes are staged, a manifest (staged file → final path, sha) is written,
  the rows are committed to Delta in one commit, then the staged files are published.
* rm: a manifest is written, the files are moved into staging (trash), the rows are
  deleted in one Delta commit, then the trash is unlinked.

The Delta commit is the single point of no return. :func:`recover` (run at the start
of every ingest and rm, under the volume lock) reads each manifest, asks the table
which side of that point the batch reached, and rolls it forward or back; anything
else in staging is debris from before a manifest existed and is deleted.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import signal
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass
from pathlib import Path

from adseed.errors import InvalidPath, StateError
from adseed.storage.tables import Tables, sql_quote
from adseed.storage.volumes import VolumePath, VolumeRef, VolumeStore

LOCK_NAME = ".adseed.lock"
CRASH_ENV = "ADSEED_TEST_CRASH_AT"
_STAGED_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,199}")
_crash_counts: dict[str, int] = {}


@dataclass(frozen=True)
class Entry:
    """One file of a journalled batch: its name in staging, its final path, its content hash."""

    staged: str
    path: str
    sha256: str


@dataclass(frozen=True)
class RecoveryReport:
    """What recovery found left over by an interrupted ingest or rm."""

    rolled_forward: int = 0  # staged files published, or trashed files deleted for good
    rolled_back: int = 0  # staged files discarded, or trashed files put back
    debris: int = 0  # staged files no manifest referred to

    def __bool__(self) -> bool:
        return bool(self.rolled_forward or self.rolled_back or self.debris)


def crash_point(phase: str) -> None:
    """Test hook: SIGKILL this process at the n-th ``phase`` when ADSEED_TEST_CRASH_AT=phase:n.

    Phases: ``staged`` (a file staged), ``manifest`` (a batch manifest written, before
    its commit), ``committed`` (a batch committed, before publishing), ``published``
    (a file published), ``trashed`` (rm moved a file to staging) and ``rm-committed``
    (rm's row deletes committed, before the trash is unlinked). A real SIGKILL, so
    nothing runs on the way out, exactly as when the machine loses the process.
    """
    wanted = os.environ.get(CRASH_ENV)
    if not wanted:
        return
    name, _, count = wanted.partition(":")
    if name != phase:
        return
    _crash_counts[phase] = _crash_counts.get(phase, 0) + 1
    if _crash_counts[phase] >= int(count or 1):
        os.kill(os.getpid(), signal.SIGKILL)


@contextmanager
def volume_lock(volumes: VolumeStore, ref: VolumeRef) -> Iterator[None]:
    """Hold the volume's writer lock, so recovery never discards another run's live batch.

    ``flock`` is released by the kernel when the holder dies, so a killed run never
    leaves the volume locked. The name is checked again here, the first place that
    touches the disk, because a VolumeRef built directly skips ``VolumeRef.parse``.
    """
    VolumeRef.parse(ref.full_name)  # InvalidName before anything is created
    folder = volumes.volume_dir(ref)
    folder.mkdir(parents=True, exist_ok=True)
    flags = os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(folder / LOCK_NAME, flags, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise StateError(
                f"volume {ref.full_name} is busy: another adseed ingest or rm is writing to it"
            ) from None
        yield
    finally:
        os.close(fd)


def write_manifest(volumes: VolumeStore, ref: VolumeRef, op: str, entries: Sequence[Entry]) -> Path:
    """Durably record a batch before its commit; the rename makes the manifest all-or-nothing."""
    staging = volumes.staging_dir(ref)
    staging.mkdir(parents=True, exist_ok=True)
    final = staging / f"{op}-{uuid.uuid4().hex}.json"
    tmp = final.with_name(final.name + ".tmp")
    body = json.dumps({"op": op, "volume": ref.full_name, "entries": [asdict(e) for e in entries]})
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(body)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, final)
    return final


def in_predicate(paths: Iterable[str]) -> str:
    return "path IN (" + ", ".join(sql_quote(p) for p in paths) + ")"


def delete_rows(tables: Tables, name: str, paths: Sequence[str]) -> int:
    """Delete the rows of ``paths`` from ``name`` in one commit (no commit if none match)."""
    if not paths or not tables.exists(name):
        return 0
    metrics = tables.open(name).delete(in_predicate(paths))
    return int(metrics.get("num_deleted_rows", 0))


def committed_rows(tables: Tables, paths: Sequence[str]) -> set[tuple[str, str]]:
    """The (path, sha256) pairs of ``paths`` present in ``assets``; reads two small columns."""
    if not paths:
        return set()
    rows = tables.read("assets", columns=["path", "sha256"], filters=[("path", "in", list(paths))])
    return set(zip(rows.column("path").to_pylist(), rows.column("sha256").to_pylist(), strict=True))


def recover(volumes: VolumeStore, tables: Tables, ref: VolumeRef) -> RecoveryReport:
    """Finish or undo whatever an interrupted ingest or rm left in ``ref``'s staging folder."""
    with volume_lock(volumes, ref):
        return recover_locked(volumes, tables, ref)


def recover_locked(volumes: VolumeStore, tables: Tables, ref: VolumeRef) -> RecoveryReport:
    """:func:`recover` for a caller that already holds the volume lock."""
    staging = volumes.staging_dir(ref)
    if not staging.is_dir():
        return RecoveryReport()
    forward = back = 0
    for manifest in sorted(staging.glob("*.json")):
        op, entries = _read_manifest(manifest, ref)
        present = committed_rows(tables, [e.path for e in entries])
        if op == "ingest":
            f, b = _settle_ingest(volumes, staging, entries, present)
        else:
            f, b = _settle_rm(volumes, tables, staging, entries, present)
        forward, back = forward + f, back + b
        manifest.unlink()
    report = RecoveryReport(forward, back, _sweep(staging))
    drop_empty_staging(volumes, ref)
    return report


def drop_empty_staging(volumes: VolumeStore, ref: VolumeRef) -> None:
    """Remove the staging folder once nothing is in flight, so a settled volume shows none."""
    with suppress(OSError):  # not empty (a live batch) or already gone
        volumes.staging_dir(ref).rmdir()


def _read_manifest(manifest: Path, ref: VolumeRef) -> tuple[str, list[Entry]]:
    """Parse and validate a manifest: its names are about to be renamed and unlinked."""
    try:
        doc = json.loads(manifest.read_text(encoding="utf-8"))
        op = doc["op"]
        entries = [
            Entry(str(e["staged"]), str(e["path"]), str(e["sha256"])) for e in doc["entries"]
        ]
        if op not in ("ingest", "rm"):
            raise ValueError(f"unknown op {op!r}")
        for e in entries:
            if not _STAGED_NAME.fullmatch(e.staged) or VolumePath.parse(e.path).volume != ref:
                raise ValueError(f"entry {e} does not belong to this volume's staging")
    except (OSError, ValueError, KeyError, TypeError, InvalidPath) as exc:
        raise StateError(
            f"cannot recover volume {ref.full_name}: unreadable manifest {manifest} ({exc}); "
            "inspect it, then move it out of the staging folder"
        ) from exc
    return op, entries


def _settle_ingest(
    volumes: VolumeStore, staging: Path, entries: list[Entry], present: set[tuple[str, str]]
) -> tuple[int, int]:
    """Publish staged files whose row was committed; discard the others."""
    forward = back = 0
    for e in entries:
        staged = staging / e.staged
        if not staged.exists():
            continue  # already published (or discarded) before the interruption
        if (e.path, e.sha256) in present:
            volumes.publish(staged, VolumePath.parse(e.path))
            forward += 1
        else:
            staged.unlink()
            back += 1
    return forward, back


def _settle_rm(
    volumes: VolumeStore,
    tables: Tables,
    staging: Path,
    entries: list[Entry],
    present: set[tuple[str, str]],
) -> tuple[int, int]:
    """Put trashed files back if their rows survived; otherwise finish the delete."""
    kept = {path for path, _ in present}
    gone = [e for e in entries if e.path not in kept]
    delete_rows(tables, "asset_embeddings", [e.path for e in gone])
    forward = back = 0
    for e in entries:
        trashed = staging / e.staged
        if not trashed.exists():
            continue
        if e.path in kept:
            volumes.publish(trashed, VolumePath.parse(e.path))
            back += 1
        else:
            trashed.unlink()
            forward += 1
    return forward, back


def _sweep(staging: Path) -> int:
    """Delete staging debris (files staged before any manifest named them); never follows links."""
    removed = 0
    with os.scandir(staging) as it:
        for entry in it:
            if entry.is_symlink() or entry.is_file(follow_symlinks=False):
                os.unlink(entry.path)
                removed += 1
    return removed
