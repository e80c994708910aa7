"""The persisted user index: one folder per embedder model, swapped in atomically.

    <home>/audience/<model>/CURRENT            → "gen-…" (replaced with os.replace)
    <home>/audience/<model>/gen-…/index.faiss  FAISS index (faiss.write_index)
                                  users.parquet user ids in slot order + running-sum state
                                  meta.json     model, dimension, the Delta versions covered

A save writes a whole new generation folder and only then points ``CURRENT`` at it,
so a reader (or a crash) sees the old generation or the new one, never a mix. The
snapshot is derived data: ``meta.json`` records the ``events`` and
``asset_embeddings`` versions it reflects, later events are folded in on open, and
anything unreadable is rebuilt from the tables.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from adseed.audience.userindex import UserIndex
from adseed.audience.vectors import UserState
from adseed.index.store import table_name

FORMAT = 2
KEEP_GENERATIONS = 2
STALE_TMP_S = 3600  # a temp folder this old belongs to a dead process
USERS = pa.schema(
    [
        pa.field("user_id", pa.string(), nullable=False),
        pa.field("norm", pa.float64(), nullable=False),
        pa.field("ref", pa.float64(), nullable=False),
        pa.field("weight", pa.float64(), nullable=False),
        pa.field("count", pa.int64(), nullable=False),
    ]
)


@dataclass(frozen=True)
class Meta:
    """What a saved generation holds and which Delta versions it reflects."""

    model_id: str
    dim: int
    events_version: int
    embeddings_version: int
    trained_at: int
    users: int
    weighting: list[float]  # view, click, purchase weights and the half-life in seconds
    format: int = FORMAT


class Unreadable(Exception):
    """A saved generation that cannot be loaded (internal signal: rebuild instead)."""


class AudienceStore:
    def __init__(self, audience_root: Path, model_id: str) -> None:
        self.root = Path(audience_root) / table_name(model_id)
        self.model_id = model_id

    @property
    def _pointer(self) -> Path:
        return self.root / "CURRENT"

    def current(self) -> Path | None:
        try:
            name = self._pointer.read_text().strip()
        except FileNotFoundError:
            return None
        return self.root / name if name.startswith("gen-") and "/" not in name else None

    def meta(self) -> Meta | None:
        folder = self.current()
        if folder is None:
            return None
        try:
            return Meta(**json.loads((folder / "meta.json").read_text()))
        except (OSError, ValueError, TypeError):
            return None

    def load(self, exact_below: int, nprobe: int) -> tuple[UserIndex, UserState, Meta]:
        """The current generation; raises :class:`Unreadable` with the reason otherwise."""
        folder = self.current()
        if folder is None:
            raise Unreadable("no saved user index")
        meta = self.meta()
        if meta is None or meta.format != FORMAT or meta.model_id != self.model_id:
            raise Unreadable(f"{folder.name}: missing or incompatible meta.json")
        try:
            users = pq.read_table(folder / "users.parquet")
            index = UserIndex.read(
                folder / "index.faiss",
                users["user_id"].to_pylist(),
                meta.trained_at,
                exact_below,
                nprobe,
            )
        except Exception as exc:  # noqa: BLE001 - FAISS raises RuntimeError, Arrow its own
            raise Unreadable(f"{folder.name}: {str(exc).splitlines()[0][:160]}") from exc
        state = UserState(
            *(users[c].to_numpy(zero_copy_only=False) for c in ("norm", "ref", "weight", "count"))
        )
        return index, state, meta

    def save(self, index: UserIndex, state: UserState, meta: Meta) -> Path | None:
        """Write a new generation and point CURRENT at it; None if a newer one is there.

        The caller holds its writer lock, so ``index`` and ``state`` do not move.
        """
        newer = self.meta()
        if newer is not None and newer.events_version > meta.events_version:
            return None
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.root / f".tmp-{uuid.uuid4().hex}"
        tmp.mkdir()
        try:
            n = len(index)
            index.write(tmp / "index.faiss")
            users = pa.table(
                {
                    "user_id": pa.array(index.ids[:n], pa.string()),
                    "norm": state.norm[:n],
                    "ref": state.ref[:n],
                    "weight": state.weight[:n],
                    "count": state.count[:n],
                },
                schema=USERS,
            )
            pq.write_table(users, tmp / "users.parquet")
            (tmp / "meta.json").write_text(json.dumps(asdict(meta), indent=1))
            for name in ("index.faiss", "users.parquet", "meta.json"):
                _fsync(tmp / name)
            final = self.root / f"gen-{time.time_ns():020d}-{os.getpid()}"
            os.rename(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        pointer_tmp = self.root / f".CURRENT-{uuid.uuid4().hex}"
        pointer_tmp.write_text(final.name)
        _fsync(pointer_tmp)
        os.replace(pointer_tmp, self._pointer)
        self._cleanup(keep=final.name)
        return final

    def _cleanup(self, keep: str) -> None:
        """Old generations go; temp folders only once they are clearly abandoned."""
        now = time.time()
        gens = sorted(e.name for e in self.root.iterdir() if e.name.startswith("gen-"))
        keep_names = {keep, *gens[-KEEP_GENERATIONS:]}  # a reader may still be loading one
        for entry in self.root.iterdir():
            if entry.name.startswith("gen-") and entry.name not in keep_names:
                shutil.rmtree(entry, ignore_errors=True)
            elif entry.name.startswith((".tmp-", ".CURRENT-")):
                try:
                    if now - entry.stat().st_mtime > STALE_TMP_S:
                        _remove(entry)
                except FileNotFoundError:
                    pass


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove(entry: Path) -> None:
    if entry.is_dir():
        shutil.rmtree(entry, ignore_errors=True)
    else:
        entry.unlink(missing_ok=True)
