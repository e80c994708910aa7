"""The ``copy`` Delta table: one commit per run, runs found again, nothing stored on failure."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from adseed.copy.base import CopyVariant
from adseed.copy.brief import load_brief, parse_brief
from adseed.copy.placements import Placement, get_placement
from adseed.copy.service import run_copy
from adseed.copy.store import TABLE, find_run, run_id, save_run
from adseed.errors import BackendError, InvalidInput
from adseed.storage.tables import Tables
from adseed.workspace import Workspace

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "brief-trail-harness.yaml"


def test_runs_are_stored_with_the_brief_hash_and_read_back(workspace: Workspace) -> None:
    runs = workspace.write_copy(EXAMPLE)
    brief = load_brief(EXAMPLE)
    assert [r.placement for r in runs] == list(brief.placements)
    assert not any(r.reused for r in runs)
    rows = workspace.tables.read(TABLE, filters=[("brief_sha256", "=", brief.sha256)])
    assert rows.num_rows == 4 * 3
    row = rows.to_pylist()[0]
    assert row["writer_id"] == "template:v1" and row["seed"] == 0 and row["variants"] == 3
    assert parse_brief(json.loads(row["brief_json"])).sha256 == brief.sha256
    by_placement = {r.placement: r for r in runs}
    display = [r for r in rows.to_pylist() if r["placement"] == "display"]
    assert {r["business_name"] for r in display} == {"Northpaw Outfitters"}
    stored = sorted(display, key=lambda r: r["variant"])
    assert [r["headline"] for r in stored] == [v.headline for v in by_placement["display"].variants]


def test_the_same_brief_and_seed_are_read_back_not_written_again(workspace: Workspace) -> None:
    first = workspace.write_copy(EXAMPLE, placement="google-rsa")
    version = workspace.tables.version(TABLE)
    again = workspace.write_copy(EXAMPLE, placement="google-rsa")
    assert again[0].reused and again[0].variants == first[0].variants
    assert workspace.tables.version(TABLE) == version
    other_seed = workspace.write_copy(EXAMPLE, placement="google-rsa", seed=1)
    assert not other_seed[0].reused and other_seed[0].variants != first[0].variants
    assert workspace.tables.read(TABLE).num_rows == 6


def test_the_table_alone_reproduces_a_run(workspace: Workspace, tmp_path: Path) -> None:
    """Another workspace, given only the stored brief_json and seed, writes the same words."""
    run = workspace.write_copy(EXAMPLE, placement="story", seed=5)[0]
    row = workspace.tables.read(TABLE, filters=[("placement", "=", "story")]).to_pylist()[0]
    other = Workspace.init(workspace.settings.__class__(home=tmp_path / "other"))
    again = other.write_copy(json.loads(row["brief_json"]), placement="story", seed=row["seed"])
    assert again[0].variants == run.variants and again[0].brief_sha256 == run.brief_sha256


class _Overlong:
    """A writer that breaks the contract: its copy must never reach the table."""

    name = "overlong"
    writer_id = "overlong:v0"

    def write(self, brief, placement: Placement, n: int, seed: int) -> list[CopyVariant]:
        return [CopyVariant("x" * 200, f"t{i}", f"d{i}", "Shop", "a dog") for i in range(n)]


def test_copy_that_breaks_the_rules_is_never_stored(workspace: Workspace) -> None:
    brief = load_brief(EXAMPLE)
    with pytest.raises(BackendError, match="breaks google-rsa's rules: variant 1: headline is"):
        run_copy(workspace.tables, brief, get_placement("google-rsa"), 3, 0, _Overlong())
    assert workspace.tables.read(TABLE).num_rows == 0


def test_a_brief_unfit_for_one_placement_stores_nothing(workspace: Workspace) -> None:
    data = {k: v for k, v in load_brief(EXAMPLE).to_dict().items() if k != "brand"}
    with pytest.raises(InvalidInput, match="needs the brief's 'brand'"):
        workspace.write_copy(data)  # display is the last placement; meta-feed is first
    assert workspace.tables.read(TABLE).num_rows == 0


def test_racing_duplicates_read_back_as_one_run(workspace: Workspace) -> None:
    rid = run_id("b" * 64, "w:1", "story", 0, 1)
    meta = {"brief_sha256": "b" * 64, "product": "P", "writer": "w", "writer_id": "w:1",
            "placement": "story", "language": "en", "seed": 0, "brief_json": "{}"}
    save_run(workspace.tables, rid, meta, [CopyVariant("first", "t", "d", "c", "i")])
    save_run(workspace.tables, rid, meta, [CopyVariant("second", "t", "d", "c", "i")])
    assert [v.headline for v in find_run(workspace.tables, rid) or []] == ["first"]


def test_an_older_workspace_gets_the_copy_table_when_opened(workspace: Workspace) -> None:
    tables: Tables = workspace.tables
    shutil.rmtree(tables.root / TABLE)
    ledger = tables.root / "_migrations.json"
    ledger.write_text(json.dumps([m for m in json.loads(ledger.read_text()) if m != "0004_copy"]))
    assert not tables.exists(TABLE)
    reopened = Workspace.open(workspace.settings)
    assert reopened.tables.exists(TABLE) and "0004_copy" in reopened.tables.applied_migrations()
