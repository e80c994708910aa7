"""The audience stage as one object: events in, user vectors kept current, lookalikes out.

``Audience.open(workspace)`` loads the saved user index of the configured embedder (or
rebuilds it from ``events`` and ``asset_embeddings``) and folds in every event
committed since the snapshot, read from the Delta Change Data Feed. User vectors live
in the user space of :mod:`adseed.audience.space` (item vectors refined by
co-engagement, centred), saved with the index; a rebuild refits it, and so does a
refresh once the events table has doubled since the last fit. New events, from
a file or the real-time :meth:`Audience.record`, are committed to Delta first and
then folded into the users' vectors and the FAISS index at once: the table stays the
source of truth, so a process that dies in between loses nothing, the next
:meth:`refresh` folds them in. Searches run concurrently with all of this (see
:mod:`adseed.audience.userindex`).
"""

from __future__ import annotations

import hashlib
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from adseed.audience.events import (
    RawEvents,
    check_rows,
    read_event_file,
    rows_to_raw,
    table_to_raw,
)
from adseed.audience.results import EventIngest, Match, Refresh
from adseed.audience.schema import EVENTS
from adseed.audience.space import centre_texts, check_coengagement, fit_items, refit_due
from adseed.audience.store import AudienceStore, Meta, Unreadable
from adseed.audience.userindex import UserIndex
from adseed.audience.vectors import (
    Folded,
    ItemCatalog,
    UserState,
    Weighting,
    event_coefficients,
    fold,
)
from adseed.audience.vocabulary import load_vocabulary
from adseed.errors import InvalidInput, NotFound, StateError
from adseed.governance.securables import Privilege
from adseed.storage.tables import read_snapshot

if TYPE_CHECKING:
    from adseed.embed.base import Embedder
    from adseed.workspace import Workspace

MAX_K = 10_000
CHECKPOINT_EVERY = 50_000  # events folded since the last save before a save is worth it
_EVENT_COLUMNS = ["user_id", "item", "event", "ts"]


class Audience:
    """User vectors of one workspace, for one embedder model."""

    def __init__(self, workspace: Workspace, embedder: Embedder) -> None:
        settings = workspace.settings
        if settings.audience_exact_below < 1 or settings.audience_nprobe < 1:
            raise InvalidInput("audience_exact_below and audience_nprobe must be positive")
        self.workspace, self.tables, self.settings = workspace, workspace.tables, settings
        self.embedder = embedder
        self.model_id, self.dim = embedder.model_id, int(embedder.dim)
        self.weighting = Weighting.from_settings(settings)
        self.coengagement = check_coengagement(settings.audience_coengagement)
        self.store = AudienceStore(settings.home / "audience", self.model_id)
        self.index = UserIndex(self.dim, settings.audience_exact_below, settings.audience_nprobe)
        self.state = UserState()
        self.catalog = ItemCatalog([], np.zeros((0, self.dim), np.float32))
        self.events_version = self.embeddings_version = -1
        self.fitted_events = self.events_seen = 0  # events the space was fitted on / folded
        self._text_mean: np.ndarray | None = None
        self.unsaved = 0  # events folded since the snapshot on disk
        self.opened = Refresh()  # what open() had to do
        self._known: tuple[int, set[str]] | None = None  # assets version, its paths
        self._lock = threading.RLock()  # one writer at a time: fold, refresh, save

    @classmethod
    def open(cls, workspace: Workspace, embedder: str | None = None) -> Audience:
        """Load the saved index (or rebuild it) and fold in events committed since.

        Reading audiences needs SELECT on ``<audience_schema>.events``; adding events
        (``ingest_events``, ``ingest_table``, ``record``) also needs MODIFY on it.
        """
        workspace.require_table(
            "audience", Privilege.SELECT, workspace.settings.audience_schema, "events"
        )
        audience = cls(workspace, workspace.embedder(embedder))
        audience.opened = audience.refresh()
        return audience

    # -- keeping up with the tables ----------------------------------------------------

    def refresh(self) -> Refresh:
        """Fold in every event committed since the index was last brought up to date."""
        with self._lock:
            events_dt, emb_dt = self.tables.open("events"), self.tables.open("asset_embeddings")
            now = (events_dt.version(), emb_dt.version())
            if self.events_version < 0:
                reason = self._load()
                if reason:
                    return self.rebuild(reason)
            if self.events_version > now[0] or self.embeddings_version > now[1]:
                return self.rebuild("the tables are older than the saved index (recreated?)")
            if now[1] > self.embeddings_version:
                changed = _cdf(emb_dt, self.embeddings_version, now[1], ["model_id"])
                if changed is None or self.model_id in changed["model_id"].to_pylist():
                    return self.rebuild("the items' embeddings changed")
                self.embeddings_version = now[1]
            if now[0] == self.events_version:
                return Refresh()
            new = _cdf(events_dt, self.events_version, now[0], [*_EVENT_COLUMNS, "_change_type"])
            if new is None or set(new["_change_type"].to_pylist()) - {"insert"}:
                return self.rebuild("events were deleted or rewritten")
            seen = self.events_seen + new.num_rows
            if refit_due(self.coengagement, self.fitted_events, seen):
                return self.rebuild(
                    f"user space refitted on {seen:,} events (was {self.fitted_events:,})"
                )
            users = self._fold_in(new.select(_EVENT_COLUMNS))
            self.events_version, self.events_seen = now[0], seen
            self.unsaved += new.num_rows
            return Refresh(events=new.num_rows, users=users)

    def _load(self) -> str:
        """Adopt the saved generation; returns why it cannot be used ('' when it can)."""
        try:
            index, state, items, meta = self.store.load(
                self.settings.audience_exact_below, self.settings.audience_nprobe
            )
        except Unreadable as exc:
            return str(exc)
        if meta.dim != self.dim:
            return f"saved index has dimension {meta.dim}, the embedder {self.dim}"
        if meta.weighting != self._weighting_key():
            return "event weights or half-life changed"
        if meta.coengagement != self.coengagement:
            return "the co-engagement setting changed"
        self.index, self.state, self.catalog = index, state, items
        self.events_version, self.embeddings_version = meta.events_version, meta.embeddings_version
        self.fitted_events, self.events_seen = meta.fitted_events, meta.events_seen
        return ""

    def rebuild(self, reason: str = "requested", refit: bool = True) -> Refresh:
        """Recompute every user vector from ``events`` and ``asset_embeddings``, and save.

        ``refit`` fits the user space afresh (items, co-engagement, centring); without
        it the current space is kept, which is what makes a rebuild comparable with
        the vectors real-time folding produced.
        """
        with self._lock:
            events_dt, emb_dt = self.tables.open("events"), self.tables.open("asset_embeddings")
            versions = (events_dt.version(), emb_dt.version())  # before reading: never over-claim
            events = read_snapshot(events_dt, _EVENT_COLUMNS)
            catalog, fitted = self.catalog, self.fitted_events
            if refit:
                catalog, fitted = self._fit_space(events), events.num_rows
            names, folded = self._fold(events, catalog, None)
            keep = np.flatnonzero(folded.norm > 0)
            index = UserIndex.bulk(
                [names[i] for i in keep],
                folded.unit[keep],
                self.settings.audience_exact_below,
                self.settings.audience_nprobe,
            )
            state = UserState()
            state.scatter(np.arange(len(keep), dtype=np.int64), folded, keep)
            self.index, self.state, self.catalog = index, state, catalog
            self.events_version, self.embeddings_version = versions
            self.fitted_events, self.events_seen = fitted, events.num_rows
            self.unsaved = 0
            self._save()
            return Refresh(events=events.num_rows, users=len(keep), rebuilt=reason)

    # -- folding -----------------------------------------------------------------------

    def raw_items(self) -> ItemCatalog:
        """The items' embeddings as the embedder made them (not the user space)."""
        return ItemCatalog.load(self.tables, self.model_id, self.dim)

    def _fit_space(self, events: pa.Table) -> ItemCatalog:
        """The user-space items, fitted on every event with the fold's own coefficients."""
        raw = self.raw_items()
        names, codes, rows, ts_s, type_w = self._arrays(events, raw)
        coef = event_coefficients(len(names), codes, ts_s, type_w, self.weighting)
        return fit_items(raw, codes, rows, coef, self.coengagement)

    def _arrays(self, events: pa.Table, catalog: ItemCatalog):
        """(user names, user code, item row, time in s, type weight) per event."""
        encoded = pc.dictionary_encode(events["user_id"]).combine_chunks()
        names = encoded.dictionary.to_pylist()
        codes = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
        ts_s = pc.cast(events["ts"], pa.int64()).to_numpy(zero_copy_only=False) / 1e6
        type_w = self.weighting.type_weights(events["event"])
        return names, codes, catalog.rows_of(events["item"]), ts_s.astype(np.float64), type_w

    def _fold(
        self,
        events: pa.Table,
        catalog: ItemCatalog,
        slots_of: Callable[[list[str]], np.ndarray] | None,
    ) -> tuple[list[str], Folded]:
        """Fold ``events`` per user onto their previous state (none when ``slots_of`` is None)."""
        names, codes, rows, ts_s, type_w = self._arrays(events, catalog)
        previous = None
        if slots_of is not None:
            slots = slots_of(names)
            previous = self.state.gather(slots, self.index.vectors(slots[slots >= 0]))
        folded = fold(
            len(names), codes, rows, ts_s, type_w, catalog.matrix, self.weighting, previous
        )
        return names, folded

    def _fold_in(self, events: pa.Table) -> int:
        """Update the users of ``events`` in place: state, then one FAISS upsert."""
        if events.num_rows == 0:
            return 0
        names, folded = self._fold(events, self.catalog, self._slots)
        keep = np.flatnonzero(folded.norm > 0)
        self.index.upsert([names[i] for i in keep], folded.unit[keep])
        self.state.scatter(self._slots([names[i] for i in keep]), folded, keep)
        return len(keep)

    def _slots(self, names: list[str]) -> np.ndarray:
        slot = self.index.slot
        return np.array([-1 if (s := slot(n)) is None else s for n in names], dtype=np.int64)

    # -- events in -----------------------------------------------------------------------

    def ingest_events(
        self,
        path: str | Path,
        fmt: str | None = None,
        on_reject: Callable[[str, str], None] | None = None,
    ) -> EventIngest:
        """Check and append a file of events, then fold them into the user vectors."""
        path = Path(path)
        raw, sha = read_event_file(path, fmt)
        report = EventIngest(path.name)
        if self.tables.read("events", columns=["batch"], filters=[("batch", "=", sha)]).num_rows:
            report.duplicate = True
            return report
        return self._commit(raw, sha, report, on_reject)

    def ingest_table(self, table: pa.Table, source: str) -> EventIngest:
        """Events already in Arrow form (e.g. simulated): same checks, deduped by content."""
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
        batch = hashlib.sha256(sink.getvalue().to_pybytes()).hexdigest()
        report = EventIngest(source)
        if self.tables.read("events", columns=["batch"], filters=[("batch", "=", batch)]).num_rows:
            report.duplicate = True
            return report
        return self._commit(table_to_raw(table), batch, report)

    def record(self, rows: Sequence[Mapping[str, Any]]) -> EventIngest:
        """Real-time events (mappings with user_id, item, event, ts): commit, fold, searchable."""
        return self._commit(rows_to_raw(rows), f"record-{uuid.uuid4().hex}", EventIngest("record"))

    def _may_write(self) -> None:
        schema = self.settings.audience_schema
        self.workspace.require_table("add events", Privilege.MODIFY, schema, "events")

    def _commit(
        self,
        raw: RawEvents,
        batch: str,
        report: EventIngest,
        on_reject: Callable[[str, str], None] | None = None,
    ) -> EventIngest:
        self._may_write()
        checked = check_rows(raw, self._known_items(), batch)
        for rejection in checked.rejections:
            if on_reject is not None:
                on_reject(rejection.where, rejection.reason)
        report.rejections, report.accepted = checked.rejections, checked.rows.num_rows
        if checked.rows.num_rows:
            self.tables.append("events", checked.rows.cast(EVENTS))
        report.refresh = self.refresh()
        return report

    def _known_items(self) -> set[str]:
        """Asset paths, re-read only when ``assets`` has a new version (real-time calls)."""
        version = self.tables.version("assets")
        if self._known is None or self._known[0] != version:
            paths = self.tables.read("assets", columns=["path"])["path"].to_pylist()
            self._known = (version, set(paths))
        return self._known[1]

    # -- persistence -------------------------------------------------------------------

    def _save(self) -> None:
        meta = Meta(
            self.model_id,
            self.dim,
            self.events_version,
            self.embeddings_version,
            self.index.trained_at,
            len(self.index),
            self._weighting_key(),
            self.coengagement,
            self.fitted_events,
            self.events_seen,
        )
        self.store.save(self.index, self.state, self.catalog, meta)
        self.unsaved = 0

    def _weighting_key(self) -> list[float]:
        return [*self.weighting.weights, self.weighting.half_life_s]

    def checkpoint(self, force: bool = False) -> bool:
        """Save the index if it lags the tables by enough events (or when forced)."""
        with self._lock:
            if not force and self.unsaved < CHECKPOINT_EVERY and self.store.current() is not None:
                return False
            self._save()
            return True

    # -- searching ---------------------------------------------------------------------

    def similar(self, user_id: str, k: int = 5) -> list[Match]:
        """The ``k`` users whose vectors are closest to ``user_id``'s (lookalikes)."""
        _check_k(k)
        index = self.index  # one index for the whole call: a rebuild may swap self.index
        slot = index.slot(user_id)
        if slot is None:
            raise NotFound(f"unknown user {user_id!r}: no events on an embedded item")
        scores, slots = index.search(index.vectors([slot]), k + 1)
        hits = [(s, int(i)) for s, i in zip(scores[0], slots[0], strict=True) if i >= 0]
        return [Match(index.ids[i], float(s)) for s, i in hits if i != slot][:k]

    def match(self, texts: Sequence[str], k: int = 100) -> list[list[Match]]:
        """Users nearest to each text: texts and items share the embedder's space.

        The texts are centred on the mean text vector (see :mod:`adseed.audience.space`).
        """
        _check_k(k)
        if (
            isinstance(texts, str)
            or not texts
            or not all(isinstance(t, str) and t.strip() for t in texts)
        ):
            raise InvalidInput("give at least one non-empty text to match users against")
        if len(self.index) == 0:
            raise StateError("no user vectors yet: ingest events on embedded items first")
        return self.nearest(self.texts_to_user_space(self.embedder.embed_texts(list(texts))), k)

    def texts_to_user_space(self, vectors: np.ndarray) -> np.ndarray:
        """The embedder's text vectors as queries in the user space (match, segment names)."""
        if self._text_mean is None:
            vocabulary = load_vocabulary(self.embedder, self.settings.cache_dir)
            self._text_mean = vocabulary.vectors.mean(axis=0)
        return centre_texts(vectors, self._text_mean)

    def nearest(self, queries: np.ndarray, k: int) -> list[list[Match]]:
        """Users nearest to query vectors that are already in the user space."""
        index = self.index
        scores, slots = index.search(queries, k)
        ids = index.ids
        return [
            [Match(ids[i], float(s)) for s, i in zip(row_s, row_i, strict=True) if i >= 0]
            for row_s, row_i in zip(scores, slots, strict=True)
        ]

    def status(self) -> dict[str, Any]:
        return {
            "model_id": self.model_id,
            "users": len(self.index),
            "index": self.index.kind,
            "items_with_vectors": len(self.catalog.paths),
            "user_space": f"co-engagement {self.coengagement}, "
            f"fitted on {self.fitted_events:,} of {self.events_seen:,} events",
            "events_version": self.events_version,
            "saved": str(self.store.current() or ""),
        }


def _check_k(k: int) -> None:
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or not 1 <= k <= MAX_K:
        raise InvalidInput(f"k must be a whole number from 1 to {MAX_K}, got {k!r}")


def _cdf(dt, after: int, until: int, columns: list[str]) -> pa.Table | None:
    """Rows changed in versions (after, until]; None when the feed cannot cover them."""
    try:
        reader = dt.load_cdf(starting_version=after + 1, ending_version=until, columns=columns)
        table = pa.table(reader.read_all())
    except Exception:  # noqa: BLE001 - delta-rs raises bare Exception for vacuumed files
        return None
    types = {f.name: f.type for f in EVENTS} | {
        "_change_type": pa.string(),
        "model_id": pa.string(),
    }
    return table.cast(pa.schema([pa.field(c, types[c]) for c in table.column_names]))
