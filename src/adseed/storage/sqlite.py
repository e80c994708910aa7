"""A small SQLite file for hot per-request state (agent sessions, remembered seeds).

Such state is read and written inside requests that must stay within milliseconds, so
it lives in SQLite rather than Delta (a Delta commit alone costs tens of ms here).
The file and its schema are created on first use, in WAL mode so readers never wait
for the one writer; every use opens its own connection in autocommit mode (callers
open their own transactions), which is safe across the server's threads and processes.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from pathlib import Path

BUSY_TIMEOUT_S = 30


class SqliteFile:
    """``path`` with ``schema``; ``pragmas`` run on every connection."""

    def __init__(self, path: Path, schema: str, pragmas: Sequence[str] = ()) -> None:
        self.path = path
        self.schema = schema
        self.pragmas = tuple(pragmas)
        self._ready = False

    @contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        if not self._ready:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with closing(sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S)) as conn:
                conn.execute("PRAGMA journal_mode = WAL")
                conn.executescript(self.schema)
                conn.commit()
            self._ready = True
        conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        try:
            for pragma in self.pragmas:
                conn.execute(f"PRAGMA {pragma}")
            yield conn
        finally:
            conn.close()
