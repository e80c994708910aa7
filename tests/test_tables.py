"""The Delta tables helper: migrations, and filtered reads that survive deletes."""

from __future__ import annotations

import pyarrow as pa
import pytest

import adseed.storage.tables as tables_module
from adseed.storage.tables import MIGRATIONS, Tables

SCHEMA = pa.schema([("path", pa.string()), ("n", pa.int64())])


@pytest.fixture
def tables(tmp_path) -> Tables:
    t = Tables(tmp_path / "tables")
    t.create("things", SCHEMA)
    t.append("things", pa.table({"path": [f"p{i}" for i in range(6)], "n": list(range(6))}, SCHEMA))
    return t


def test_migrations_apply_once_in_order(tmp_path) -> None:
    t = Tables(tmp_path / "tables")
    assert t.migrate() == [name for name, _ in MIGRATIONS]
    assert t.migrate() == []
    assert t.applied_migrations() == [name for name, _ in MIGRATIONS]
    assert t.exists("assets") and t.exists("asset_embeddings")


@pytest.mark.parametrize("max_in", [2000, 1])  # SQL IN list, and scan + in-memory filter
def test_filtered_reads_after_a_delete(tables: Tables, monkeypatch, max_in: int) -> None:
    """deltalake 1.6's pyarrow filters fail once a DELETE rewrote a file; ours must not."""
    monkeypatch.setattr(tables_module, "_MAX_SQL_IN", max_in)
    tables.open("things").delete("path = 'p1'")
    got = tables.read("things", columns=["path"], filters=[("path", "in", ["p0", "p1", "p4"])])
    assert sorted(got["path"].to_pylist()) == ["p0", "p4"]
    got = tables.read("things", filters=[("n", "=", 5), ("path", "in", ["p5", "p2"])])
    assert got.to_pylist() == [{"path": "p5", "n": 5}]
    assert got.schema == SCHEMA  # the table's own types, not string_view
    assert tables.read("things", filters=[("path", "in", [])]).num_rows == 0


def test_quotes_in_values_are_escaped(tables: Tables) -> None:
    tables.append("things", pa.table({"path": ["it's"], "n": [9]}, SCHEMA))
    got = tables.read("things", filters=[("path", "in", ["it's", "x' OR '1'='1"])])
    assert got["path"].to_pylist() == ["it's"]
