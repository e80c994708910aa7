"""The persisted user index: one folder per embedder model, swapped in atomically.

    <home>/audience/<model>/CURRENT            → "gen-…" (replaced with os.replace)
    <home>/audience/<model>/gen-…/index.faiss  FAISS index (faiss.write_index)
                                  users.parquet user ids in slot order + running-sum state
                                  items.parquet the user-space item vectors (space.py)
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

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from adseed.audience.userindex import UserIndex
from adseed.audience.vectors import ItemCatalog, UserState
from adseed.index.store import table_name

FORMAT = 3  # 3: the user space (items.parquet, fitted on behaviour) is saved too
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
ITEMS = pa.schema(
    [
        pa.field("path", pa.string(), nullable=False),
        pa.field("vector", pa.list_(pa.float32()), nullable=False),
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
    coengagement: float  # the blend the user space was fitted with
    fitted_events: int  # events in the table when the user space was fitted
    events_seen: int  # events in the table at events_version
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

    def load(self, exact_below: int, nprobe: int) -> tuple[UserIndex, UserState, ItemCatalog, Meta]:
        """The current generation; raises :class:`Unreadable` with the reason otherwise."""
        folder = self.current()
        if folder is None:
            raise Unreadable("no saved user index")
        meta = self.meta()
        if meta is None or meta.format != FORMAT or meta.model_id != self.model_id:
            raise Unreadable(f"{folder.name}: missing or incompatible meta.json")
        try:
            users = pq.read_table(folder / "users.parquet")
            items = _read_items(folder / "items.parquet", meta.dim)
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
        return index, state, items, meta

    def save(
        self, index: UserIndex, state: UserState, items: ItemCatalog, meta: Meta
    ) -> Path | None:
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
            index.write(tmp / "index.faiss")
            pq.write_table(_users_table(index, state), tmp / "users.parquet")
            pq.write_table(_items_table(items), tmp / "items.parquet")
            (tmp / "meta.json").write_text(json.dumps(asdict(meta), indent=1))
            for name in ("index.faiss", "users.parquet", "items.parquet", "meta.json"):
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


def _users_table(index: UserIndex, state: UserState) -> pa.Table:
    n = len(index)
    columns = {"user_id": pa.array(index.ids[:n], pa.string())}
    for name in ("norm", "ref", "weight", "count"):
        columns[name] = pa.array(getattr(state, name)[:n])
    return pa.table(columns, schema=USERS)


def _items_table(items: ItemCatalog) -> pa.Table:
    n, dim = items.matrix.shape
    vectors = pa.ListArray.from_arrays(
        pa.array(np.arange(n + 1, dtype=np.int32) * dim), pa.array(items.matrix.ravel())
    )
    return pa.table({"path": pa.array(items.paths, pa.string()), "vector": vectors}, schema=ITEMS)


def _read_items(path: Path, dim: int) -> ItemCatalog:
    table = pq.read_table(path)
    flat = pc.list_flatten(table["vector"]).to_numpy(zero_copy_only=False)
    if flat.size != table.num_rows * dim:
        raise ValueError(f"items.parquet holds vectors that are not {dim}-dimensional")
    return ItemCatalog(table["path"].to_pylist(), flat.reshape(table.num_rows, dim))


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
