"""The remembered top-3 seeds: SQLite store, first writer wins, and the move from Delta."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyarrow as pa

from adseed.generate.memory import LEGACY_TABLE, Remembered, SeedMemory, memory_key
from adseed.storage.tables import TS, Tables

# The Delta table migration 0007 created before 0008 moved the memory to SQLite.
LEGACY_SCHEMA = pa.schema(
    [
        pa.field("key", pa.string(), nullable=False),
        pa.field("segment_text", pa.string(), nullable=False),
        pa.field("model_id", pa.string(), nullable=False),
        pa.field("index_version", pa.string(), nullable=False),
        pa.field("principal", pa.string(), nullable=False),
        pa.field("candidates", pa.list_(pa.string()), nullable=False),
        pa.field("scores", pa.list_(pa.float64()), nullable=False),
        pa.field("created_at", TS, nullable=False),
    ]
)


def test_keys_normalise_the_text_and_separate_everything_else() -> None:
    key = memory_key("Dog owners  who love\tthe outdoors", "m", "3.4", "alice")
    assert key == memory_key(" dog OWNERS who love the outdoors ", "m", "3.4", "alice")
    others = [("dog owners", "m", "3.4", "alice"), ("Dog owners who love the outdoors", "n", "3.4", "alice"),
              ("Dog owners who love the outdoors", "m", "3.5", "alice"),
              ("Dog owners who love the outdoors", "m", "3.4", "bob")]  # fmt: skip
    assert key not in {memory_key(*o) for o in others}


def test_the_first_writer_wins_for_every_reader(tmp_path) -> None:
    one, two = SeedMemory(tmp_path), SeedMemory(tmp_path)  # two connections, as two processes
    assert one.recall("k") is None
    first = Remembered(("/a", "/b", "/c"), (0.9, 0.8, 0.7))
    assert one.remember("k", "text", "m", "1.1", "alice", first) == first
    late = Remembered(("/x", "/y", "/z"), (0.5, 0.4, 0.3))  # a racing process's own query
    assert two.remember("k", "text", "m", "1.1", "alice", late) == first
    assert two.recall("k") == first and one.count() == 1


def test_migration_moves_the_delta_rows_and_removes_the_table(tmp_path) -> None:
    tables = Tables(tmp_path / "tables")
    tables.create(LEGACY_TABLE, LEGACY_SCHEMA)
    now = datetime.now(UTC)
    rows = [("k1", ["/old1", "/old2", "/old3"], now - timedelta(minutes=5)),
            ("k1", ["/new1", "/new2", "/new3"], now),  # the latest row is what readers got
            ("k2", ["/a", "/b", "/c"], now)]  # fmt: skip
    tables.append(LEGACY_TABLE, pa.Table.from_pylist([
        {"key": k, "segment_text": "t", "model_id": "m", "index_version": "1.1", "principal": "p",
         "candidates": c, "scores": [0.3, 0.2, 0.1], "created_at": at} for k, c, at in rows
    ], schema=LEGACY_SCHEMA))  # fmt: skip
    assert "0008_seed_memory_sqlite" in tables.migrate()
    memory = SeedMemory(tmp_path)
    assert memory.recall("k1") == Remembered(("/new1", "/new2", "/new3"), (0.3, 0.2, 0.1))
    assert memory.recall("k2") is not None and memory.count() == 2
    assert not tables.exists(LEGACY_TABLE) and not (tmp_path / "tables" / LEGACY_TABLE).exists()
