"""Ingest and rm against real Delta tables: happy path, idempotency, names, crash safety, CLI."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pytest

from adseed.errors import InvalidInput, InvalidPath, NotFound, StateError
from adseed.storage.ingest import remove_assets
from adseed.storage.journal import CRASH_ENV, recover, volume_lock
from adseed.storage.tables import EMBEDDINGS
from adseed.storage.volumes import VolumePath, VolumeRef
from adseed.workspace import Workspace

from conftest import make_jpeg, make_png

VOLUME = "main.bricks.seeds"
REF = VolumeRef.parse(VOLUME)


def write(folder: Path, name: str, data: bytes) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def five_images(folder: Path) -> list[Path]:
    """Five distinct small PNGs (distinct colours, so distinct hashes), named img0..img4."""
    return [
        write(folder, f"img{i}.png", make_png(size=(8, 8), color=(i, 2 * i, 3))) for i in range(5)
    ]


def assets(ws: Workspace) -> pa.Table:
    return ws.tables.read("assets")


def assert_consistent(ws: Workspace) -> set[str]:
    """The invariant: volume files == ``assets`` paths, bytes match, no staging leftovers."""
    table = assets(ws)
    rows = dict(
        zip(table.column("path").to_pylist(), table.column("content").to_pylist(), strict=True)
    )
    files = {str(p) for p in ws.volumes.list_files(REF)}
    assert files == set(rows)
    for path, content in rows.items():
        assert ws.volumes.read_bytes(VolumePath.parse(path)) == content
    staging = ws.volumes.staging_dir(REF)
    assert not staging.exists() or not any(staging.iterdir())
    return files


# -- happy path ---------------------------------------------------------------------------


def test_ingest_copies_files_and_rows(workspace: Workspace, tmp_path: Path) -> None:
    src = tmp_path / "in"
    png = write(src, "dog.png", make_png("dog", size=(32, 24)))
    jpg = write(src, "sub/cat.jpg", make_jpeg(size=(40, 30)))
    report = workspace.ingest([src], VOLUME, kind="brand", tags={"campaign": "spring"})

    assert report.summary() == "ingested 2, duplicates 0, rejected 0"
    assert report.paths == (f"{REF.path}/dog.png", f"{REF.path}/cat.jpg")
    assert report.commits == 1 and report.version == workspace.tables.version("assets")
    rows = {r["path"]: r for r in assets(workspace).to_pylist()}
    for source, (w, h, fmt) in ((png, (32, 24, "PNG")), (jpg, (40, 30, "JPEG"))):
        row = rows[f"{REF.path}/{source.name}"]
        data = source.read_bytes()
        assert row["content"] == data and row["size_bytes"] == len(data)
        assert row["sha256"] == hashlib.sha256(data).hexdigest()
        assert (row["width"], row["height"], row["format"]) == (w, h, fmt)
        assert (row["kind"], row["volume"], row["source_name"]) == ("brand", VOLUME, source.name)
        assert row["tags"] == [("campaign", "spring")]
        assert row["ingested_at"] <= datetime.now(UTC)
    assert assert_consistent(workspace) == set(rows)


def test_second_run_adds_nothing(workspace: Workspace, tmp_path: Path) -> None:
    src = tmp_path / "in"
    five_images(src)
    first = workspace.ingest([src], VOLUME)
    version = workspace.tables.version("assets")
    mtimes = {p: p.stat().st_mtime_ns for p in workspace.volumes.volume_dir(REF).iterdir()}

    again = workspace.ingest([src], VOLUME)
    assert first.ingested == 5
    assert again.summary() == "ingested 0, duplicates 5, rejected 0"
    assert again.paths == () and again.commits == 0
    assert workspace.tables.version("assets") == version
    assert {p: p.stat().st_mtime_ns for p in workspace.volumes.volume_dir(REF).iterdir()} == mtimes


def test_one_commit_per_batch(workspace: Workspace, settings, tmp_path: Path) -> None:
    ws = Workspace.init(dataclasses.replace(settings, ingest_commit_every=2))
    five_images(tmp_path / "in")
    before = ws.tables.version("assets")
    report = ws.ingest([tmp_path / "in"], VOLUME)
    assert report.commits == 3 and ws.tables.version("assets") == before + 3
    assert_consistent(ws)


def test_same_name_different_content_gets_suffix(workspace: Workspace, tmp_path: Path) -> None:
    write(tmp_path / "a", "x.png", make_png(color=(1, 1, 1)))
    write(tmp_path / "b", "x.png", make_png(color=(2, 2, 2)))
    write(tmp_path / "c", "X.PNG", make_png(color=(3, 3, 3)))
    first = workspace.ingest([tmp_path / "a", tmp_path / "b"], VOLUME)
    second = workspace.ingest([tmp_path / "c", tmp_path / "a"], VOLUME)
    assert [p.rsplit("/", 1)[1] for p in first.paths] == ["x.png", "x-2.png"]
    assert [p.rsplit("/", 1)[1] for p in second.paths] == ["X-3.PNG"]  # case-insensitive clash
    assert second.duplicates == 1
    assert_consistent(workspace)


def test_foreign_file_in_volume_is_never_overwritten(workspace: Workspace, tmp_path: Path) -> None:
    volume_dir = workspace.volumes.volume_dir(REF)
    volume_dir.mkdir(parents=True)
    (volume_dir / "x.png").write_bytes(b"someone else's file")
    write(tmp_path / "in", "x.png", make_png())
    report = workspace.ingest([tmp_path / "in"], VOLUME)
    assert report.paths == (f"{REF.path}/x-2.png",)
    assert (volume_dir / "x.png").read_bytes() == b"someone else's file"


def test_duplicates_within_one_run(workspace: Workspace, tmp_path: Path) -> None:
    data = make_png("same")
    write(tmp_path / "in", "a.png", data)
    write(tmp_path / "in", "b.png", data)
    write(tmp_path / "in", "deep/c.png", data)
    report = workspace.ingest([tmp_path / "in"], VOLUME)
    assert report.summary() == "ingested 1, duplicates 2, rejected 0"
    assert report.duplicate_sources == (str(tmp_path / "in/b.png"), str(tmp_path / "in/deep/c.png"))
    assert assets(workspace).num_rows == 1


def test_unsafe_source_names_are_sanitised(workspace: Workspace, tmp_path: Path) -> None:
    write(tmp_path / "in", "猫 photo.png", make_png(color=(9, 9, 9)))
    write(tmp_path / "in", "猫.png", make_png(color=(8, 8, 8)))
    report = workspace.ingest([tmp_path / "in"], VOLUME)
    assert sorted(p.rsplit("/", 1)[1] for p in report.paths) == ["file.png", "photo.png"]
    assert set(assets(workspace).column("source_name").to_pylist()) == {"猫 photo.png", "猫.png"}


def test_single_file_argument_and_missing_path(workspace: Workspace, tmp_path: Path) -> None:
    one = write(tmp_path, "one.png", make_png())
    rejected: list[tuple[str, str]] = []
    report = workspace.ingest(
        [one, tmp_path / "nope"], VOLUME, on_reject=lambda s, r: rejected.append((s, r))
    )
    assert report.ingested == 1
    assert rejected == [(str(tmp_path / "nope"), "no such file or folder")]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"kind": "ad"}, "invalid kind"),
        ({"tags": {"bad key": "v"}}, "invalid tag key"),
        ({"tags": {"k": "line\nbreak"}}, "invalid value"),
        ({"tags": {"k": "x" * 300}}, "invalid value"),
    ],
)
def test_kind_and_tags_are_validated_first(
    workspace: Workspace, tmp_path: Path, kwargs, message
) -> None:
    write(tmp_path / "in", "a.png", make_png())
    version = workspace.tables.version("assets")
    with pytest.raises(InvalidInput, match=message):
        workspace.ingest([tmp_path / "in"], VOLUME, **kwargs)
    assert workspace.tables.version("assets") == version
    assert not workspace.volumes.volume_dir(REF).exists()


def test_progress_counts_every_candidate(workspace: Workspace, tmp_path: Path) -> None:
    five_images(tmp_path / "in")
    (tmp_path / "in" / "notes.jpg").write_text("not an image")
    calls: list[tuple] = []

    class Bar:
        def update(self, n: int = 1) -> None:
            calls.append(("update", n))

        def close(self) -> None:
            calls.append(("close",))

    def factory(*, total, desc, unit="it"):
        calls.append(("open", total, desc, unit))
        return Bar()

    workspace.ingest([tmp_path / "in"], VOLUME, progress=factory)
    assert calls[0] == ("open", 6, f"ingest {VOLUME}", "file")
    assert sum(c[1] for c in calls if c[0] == "update") == 6 and calls[-1] == ("close",)


def test_busy_volume_is_refused(workspace: Workspace, tmp_path: Path) -> None:
    write(tmp_path / "in", "a.png", make_png())
    with volume_lock(workspace.volumes, REF), pytest.raises(StateError, match="busy"):
        workspace.ingest([tmp_path / "in"], VOLUME)


# -- crash safety -------------------------------------------------------------------------

CRASH_SCRIPT = """
import sys
from adseed.config import resolve_settings
from adseed.workspace import Workspace
ws = Workspace.open(resolve_settings())
if sys.argv[1] == "ingest":
    ws.ingest([sys.argv[2]], sys.argv[3])
else:
    ws.remove(sys.argv[2:])
"""


def run_killed(ws: Workspace, crash_at: str, *args: str) -> None:
    """Run ingest/rm in a child that SIGKILLs itself at ``crash_at`` (see journal.crash_point)."""
    env = {
        **os.environ,
        "ADSEED_HOME": str(ws.home),
        "ADSEED_EMBEDDER": "fake",
        "ADSEED_INGEST_COMMIT_EVERY": "2",
        CRASH_ENV: crash_at,
    }
    env.pop("ADSEED_CONFIG", None)
    proc = subprocess.run([sys.executable, "-c", CRASH_SCRIPT, *args], env=env, capture_output=True)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()


@pytest.mark.parametrize(
    ("crash_at", "rows_after_recovery", "forward", "back"),
    [
        ("staged:3", 2, 0, 0),  # batch 2 half staged, no manifest yet: debris only
        ("manifest:2", 2, 0, 2),  # batch 2 journalled, killed before its commit: undone
        ("committed:2", 4, 2, 0),  # batch 2 committed, nothing published: completed
        ("published:3", 4, 1, 0),  # batch 2 committed, one of two published: completed
    ],
)
def test_killed_ingest_is_recovered(
    workspace: Workspace, tmp_path: Path, crash_at, rows_after_recovery, forward, back
) -> None:
    five_images(tmp_path / "in")
    run_killed(workspace, crash_at, "ingest", str(tmp_path / "in"), VOLUME)
    assert workspace.volumes.staging_dir(REF).exists()  # the kill left work in flight

    report = recover(workspace.volumes, workspace.tables, REF)
    assert (report.rolled_forward, report.rolled_back) == (forward, back)
    assert len(assert_consistent(workspace)) == rows_after_recovery

    again = workspace.ingest([tmp_path / "in"], VOLUME)
    assert again.ingested == 5 - rows_after_recovery
    assert len(assert_consistent(workspace)) == 5


def test_ingest_recovers_before_it_starts(workspace: Workspace, tmp_path: Path) -> None:
    five_images(tmp_path / "in")
    run_killed(workspace, "committed:1", "ingest", str(tmp_path / "in"), VOLUME)
    report = workspace.ingest([tmp_path / "in"], VOLUME)
    assert report.recovered.rolled_forward == 2
    assert "recovered an interrupted run" in report.summary()
    assert len(assert_consistent(workspace)) == 5


# -- rm -----------------------------------------------------------------------------------


def ingest_with_embeddings(ws: Workspace, folder: Path) -> list[str]:
    paths = list(ws.ingest([folder], VOLUME).paths)
    now = datetime.now(UTC)
    rows = [
        {"path": p, "sha256": "0" * 64, "model_id": m, "vector": [1.0, 0.0], "embedded_at": now}
        for p in paths
        for m in ("fake-a", "fake-b")
    ]
    ws.tables.append("asset_embeddings", pa.Table.from_pylist(rows, schema=EMBEDDINGS))
    return paths


def test_rm_deletes_file_and_rows(workspace: Workspace, tmp_path: Path) -> None:
    five_images(tmp_path / "in")
    paths = ingest_with_embeddings(workspace, tmp_path / "in")
    report = workspace.remove([paths[0], paths[3]])
    assert report.summary() == "removed 2 assets, 4 embedding rows"
    assert assert_consistent(workspace) == {paths[1], paths[2], paths[4]}
    left = set(
        workspace.tables.read("asset_embeddings", columns=["path"]).column("path").to_pylist()
    )
    assert left == {paths[1], paths[2], paths[4]}


@pytest.mark.parametrize(
    ("bad", "error"),
    [
        (f"{REF.path}/../../../etc/passwd", InvalidPath),
        (f"{REF.path}/%2e%2e/img0.png", InvalidPath),
        (f"{REF.path}/img0.png\x00", InvalidPath),
        ("/etc/passwd", InvalidPath),
        (f"{REF.path}/a\\b.png", InvalidPath),
        (f"{REF.path}/nope.png", NotFound),
        ("/Volumes/main/bricks/other/img0.png", NotFound),
    ],
)
def test_rm_bad_path_deletes_nothing(workspace: Workspace, tmp_path: Path, bad, error) -> None:
    five_images(tmp_path / "in")
    paths = ingest_with_embeddings(workspace, tmp_path / "in")
    versions = {t: workspace.tables.version(t) for t in ("assets", "asset_embeddings")}
    with pytest.raises(error):
        workspace.remove([paths[0], bad])
    assert {t: workspace.tables.version(t) for t in versions} == versions
    assert assert_consistent(workspace) == set(paths)


def test_rm_nothing_is_an_error(workspace: Workspace) -> None:
    with pytest.raises(InvalidInput):
        remove_assets(workspace.volumes, workspace.tables, [])


@pytest.mark.parametrize(
    ("crash_at", "expect_removed"),
    [("trashed:2", False), ("rm-committed:1", True)],
)
def test_killed_rm_is_rolled_back_or_forward(
    workspace: Workspace, tmp_path: Path, crash_at, expect_removed
) -> None:
    five_images(tmp_path / "in")
    paths = ingest_with_embeddings(workspace, tmp_path / "in")
    run_killed(workspace, crash_at, "rm", paths[0], paths[1])
    recover(workspace.volumes, workspace.tables, REF)
    expected = set(paths[2:]) if expect_removed else set(paths)
    assert assert_consistent(workspace) == expected
    embedded = workspace.tables.read("asset_embeddings", columns=["path"]).column("path")
    assert set(embedded.to_pylist()) == expected


# -- the real CLI -------------------------------------------------------------------------


@pytest.mark.e2e
def test_cli_ingest_end_to_end(tmp_path: Path) -> None:
    adseed = Path(sys.executable).with_name("adseed")
    home = tmp_path / "home"
    src = tmp_path / "photos"
    write(src, "a.png", make_png(color=(1, 2, 3)))
    write(src, "b.jpg", make_jpeg())
    write(src, "notes.jpg", b"just text, renamed")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ADSEED_")}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(adseed), "--home", str(home), *args], env=env, capture_output=True, text=True
        )

    assert cli("init").returncode == 0
    first = cli("ingest", str(src), "--volume", VOLUME, "--tag", "source=e2e")
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == "ingested 2, duplicates 0, rejected 1"
    assert first.stderr.strip() == f"rejected {src / 'notes.jpg'}: not an image " + (
        "(accepted: JPEG, PNG, WEBP, GIF, BMP)"
    )
    again = cli("ingest", str(src), "--volume", VOLUME)
    assert again.stdout.strip() == "ingested 0, duplicates 2, rejected 1"
    bad = cli("ingest", str(src), "--volume", "main.bricks.%2e%2e")
    assert bad.returncode == 2 and bad.stderr.startswith("error: invalid volume")
    gone = cli("rm", f"{REF.path}/a.png")
    assert gone.returncode == 0 and gone.stdout.strip() == "removed 1 assets, 0 embedding rows"
    missing = cli("rm", f"{REF.path}/a.png")
    assert missing.returncode == 3 and "not an asset" in missing.stderr


def test_workspace_file_api_round_trip(workspace) -> None:
    path = workspace.write_file("/Volumes/main/bricks/generated/ad.png", make_png("ad"))
    assert workspace.read_file(path) == make_png("ad")
    with pytest.raises(InvalidPath):
        workspace.read_file("/Volumes/main/bricks/generated/../../../etc/passwd")
    with pytest.raises(NotFound):
        workspace.read_file("/Volumes/main/bricks/generated/missing.png")
