"""The remembered top-3 seeds per segment text, so seed_index 1 and 2 reuse the same three.

The memory is read on every request and written on every new query, inside an agent
turn that must stay well under 50 ms. It is therefore a small SQLite database,
``<home>/generate/seed_memory.db``, like the agent's sessions, and no longer a Delta
table: on 2 cores reading a key from the Delta table cost 16.5 ms (p50; opening the
table replays its log, then a SQL scan) and remembering one cost 26 ms (p50, 127 ms
p99: a new log entry and a Parquet file per row), against 0.2 ms and ~1 ms here
(``bench/agent.py`` prints the turn figures). SQLite is also transactional across the
server's threads and processes, which is what the guarantee needs: once one process
remembered a key, every other process reads the same three and makes no vector query.

A key is the normalised text, the embedder's model id, the index's Delta watermark and
the principal: a re-synced index, another embedder or a caller with other grants gets
a fresh query. The first writer of a key wins (two processes that raced both queried
the same index, and all later readers agree on the stored three). The rows are a
cache of a deterministic query, written with ``synchronous=NORMAL``: a power cut can
lose the last few, which costs one more vector query, never a wrong answer. The
candidates of every generated ad are also kept for good in its ``generations`` row.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
import unicodedata
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from adseed.storage.sqlite import SqliteFile

if TYPE_CHECKING:
    from adseed.storage.tables import Tables

LEGACY_TABLE = "seed_memory"  # the Delta table the memory lived in before (migration 0008)
_SCHEMA = """
CREATE TABLE IF NOT EXISTS seed_memory (
    key TEXT PRIMARY KEY, segment_text TEXT NOT NULL, model_id TEXT NOT NULL,
    index_version TEXT NOT NULL, principal TEXT NOT NULL, candidates TEXT NOT NULL,
    scores TEXT NOT NULL, created_at TEXT NOT NULL);
"""


def normalise_text(text: str) -> str:
    """The form under which two segment texts count as the same request."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def memory_key(text: str, model_id: str, index_version: str, principal: str) -> str:
    parts = (normalise_text(text), model_id, index_version, principal)
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()


@dataclass(frozen=True)
class Remembered:
    """The candidates once retrieved for a key, best first."""

    candidates: tuple[str, ...]
    scores: tuple[float, ...]


class SeedMemory:
    """Key → remembered candidates, in ``<home>/generate/seed_memory.db``."""

    def __init__(self, home: Path) -> None:
        self.path = home / "generate" / "seed_memory.db"
        self._file = SqliteFile(self.path, _SCHEMA, ("synchronous = NORMAL",))

    def _db(self) -> AbstractContextManager[sqlite3.Connection]:
        return self._file.connect()

    def recall(self, key: str) -> Remembered | None:
        """The candidates remembered for ``key``, or None."""
        with self._db() as db:
            row = db.execute(
                "SELECT candidates, scores FROM seed_memory WHERE key = ?", (key,)
            ).fetchone()
        if row is None:
            return None
        return Remembered(tuple(json.loads(row[0])), tuple(json.loads(row[1])))

    def remember(
        self, key: str, text: str, model_id: str, index_version: str, principal: str,
        found: Remembered,
    ) -> Remembered:  # fmt: skip
        """Store ``found`` for ``key`` unless someone already did; returns what is stored."""
        row = (key, text, model_id, index_version, principal, json.dumps(list(found.candidates)),
               json.dumps(list(found.scores)), datetime.now(UTC).isoformat())  # fmt: skip
        with self._db() as db:
            db.execute("INSERT OR IGNORE INTO seed_memory VALUES (?, ?, ?, ?, ?, ?, ?, ?)", row)
            stored = db.execute(
                "SELECT candidates, scores FROM seed_memory WHERE key = ?", (key,)
            ).fetchone()
        return Remembered(tuple(json.loads(stored[0])), tuple(json.loads(stored[1])))

    def count(self) -> int:
        with self._db() as db:
            return int(db.execute("SELECT COUNT(*) FROM seed_memory").fetchone()[0])


def migrate_from_delta(tables: Tables) -> None:
    """Migration step (``0008_seed_memory_sqlite``): move the rows of the old Delta table.

    Every remembered key keeps its latest candidates (what the Delta reader returned),
    so a request after the upgrade reuses them; the Delta table is then removed.
    """
    if not tables.exists(LEGACY_TABLE):
        return
    rows = tables.read(LEGACY_TABLE).to_pylist()
    latest: dict[str, dict] = {}
    for row in sorted(rows, key=lambda r: r["created_at"]):
        latest[row["key"]] = row
    memory = SeedMemory(tables.root.parent)  # the workspace home
    for row in latest.values():
        found = Remembered(tuple(row["candidates"]), tuple(row["scores"]))
        memory.remember(row["key"], row["segment_text"], row["model_id"],
                        row["index_version"], row["principal"], found)  # fmt: skip
    shutil.rmtree(tables.uri(LEGACY_TABLE))
