"""``adseed audience …`` as a subprocess: events in, lookalikes, matches, segments, errors."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from audience_helpers import INTERESTS, VOLUME

from conftest import make_png

pytestmark = pytest.mark.e2e
ADSEED = Path(sys.executable).with_name("adseed")


def run(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ADSEED_")}
    env["ADSEED_EMBEDDER"] = "fake"
    return subprocess.run(
        [str(ADSEED), "--home", str(home), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_audience_commands_end_to_end(tmp_path: Path) -> None:
    home, photos = tmp_path / "ws", tmp_path / "photos"
    photos.mkdir()
    for n, interest in enumerate(INTERESTS[:4]):
        for j in range(4):
            name = f"{interest.replace(' ', '_')}_{j}.png"
            (photos / name).write_bytes(make_png(f"{interest} park", color=(n * 40, j * 40, 9)))
    assert run(home, "init").returncode == 0
    assert run(home, "ingest", str(photos), "--volume", VOLUME).returncode == 0
    assert run(home, "embed").returncode == 0
    item = "/Volumes/main/shop/items/golden_retriever_0.png"

    events = tmp_path / "events.csv"
    events.write_text(
        "user_id,item,event,ts\n"
        f"alice,{item},view,2024-05-01T10:00:00Z\n"
        f"bob,{item},like,2024-05-01T10:00:00Z\n"
        f"bob,{item},click,2024-05-02T10:00:00Z\n"
    )
    out = run(home, "audience", "ingest-events", str(events))
    assert out.returncode == 0, out.stderr
    assert out.stderr.strip() == (
        "rejected events.csv line 3: unknown event type 'like' (expected view, click or purchase)"
    )
    assert out.stdout.strip().startswith("ingested 2 events, rejected 1; 2 user vectors updated")

    out = run(home, "audience", "similar", "alice", "-k", "3", "--json")
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout)
    assert got["user_id"] == "alice" and [m["user_id"] for m in got["similar"]] == ["bob"]

    truth = tmp_path / "truth.csv"
    out = run(home, "audience", "simulate", "--users", "120", "--items-from", VOLUME,
              "--seed", "3", "--truth-out", str(truth))  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "over 4 interests (by name)" in out.stdout
    # the events table grew from 2 to 2,343 events: the user space is refitted on all of
    # them, so every user's vector is recomputed, the two earlier users' too
    assert "122 user vectors updated (index rebuilt: user space refitted on 2,343" in out.stdout
    with truth.open() as fh:
        assert len(list(csv.DictReader(fh))) == 120

    out = run(home, "audience", "match", "--json", "-k", "5", "siamese cat")
    assert out.returncode == 0, out.stderr
    assert len(json.loads(out.stdout)["users"]) == 5

    out = run(home, "audience", "segments", "--k", "4")
    assert out.returncode == 0, out.stderr
    made = [line.split("\t") for line in out.stdout.splitlines()]
    assert [row[0] for row in made] == ["r1s0", "r1s1", "r1s2", "r1s3"]
    listed = run(home, "audience", "segments", "--json")
    assert [json.loads(line)["segment_id"] for line in listed.stdout.splitlines()] == [
        row[0] for row in made
    ]
    members = run(home, "audience", "members", "r1s0", "--limit", "2")
    assert members.returncode == 0 and len(members.stdout.split()) == 2

    status = json.loads(run(home, "audience", "status", "--json").stdout)
    assert status["users"] == 122 and status["index"] == "exact"
    assert run(home, "audience", "rebuild").stdout.startswith("rebuilt: 122 users")

    # errors: one line, the error's exit code
    unknown = run(home, "audience", "similar", "nobody")
    assert unknown.returncode == 3 and unknown.stderr.startswith("error: unknown user 'nobody'")
    events.write_text("user,item\nx,y\n")
    bad = run(home, "audience", "ingest-events", str(events))
    assert bad.returncode == 2 and "no 'event' column" in bad.stderr
    missing = run(home, "audience", "members", "r7s7")
    assert missing.returncode == 3 and "no segment 'r7s7'" in missing.stderr


def test_simulated_events_to_a_file_then_ingested(tmp_path: Path) -> None:
    home, photos = tmp_path / "ws", tmp_path / "photos"
    photos.mkdir()
    for n, name in enumerate(["cat_1", "cat_2", "dog_1", "dog_2"]):
        (photos / f"{name}.png").write_bytes(make_png(name.split("_")[0], color=(n, n, n)))
    assert run(home, "init").returncode == 0
    assert run(home, "ingest", str(photos), "--volume", VOLUME).returncode == 0
    for fmt in ("jsonl", "csv", "parquet"):
        target = tmp_path / f"sim.{fmt}"
        out = run(home, "audience", "simulate", "--users", "10", "--items-from", VOLUME,
                  "--events-out", str(target))  # fmt: skip
        assert out.returncode == 0 and target.is_file(), out.stderr
    first = run(home, "audience", "ingest-events", str(tmp_path / "sim.parquet"))
    assert first.returncode == 0 and "rejected 0" in first.stdout, first.stderr
    again = run(home, "audience", "ingest-events", str(tmp_path / "sim.parquet"))
    assert "already ingested" in again.stdout
    # the same events as CSV are a different file: rows are appended again, all valid
    as_csv = run(home, "audience", "ingest-events", str(tmp_path / "sim.csv"))
    assert as_csv.returncode == 0 and "rejected 0" in as_csv.stdout
