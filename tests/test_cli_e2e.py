"""The real ``adseed`` CLI as a subprocess: the whole path, and the demo job."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import make_png

pytestmark = pytest.mark.e2e
ADSEED = Path(sys.executable).with_name("adseed")


def run(home: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ADSEED_")}
    return subprocess.run(
        [str(ADSEED), "--home", str(home), *args],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_ingest_embed_sync_search_rm(tmp_path: Path) -> None:
    home, photos = tmp_path / "ws", tmp_path / "photos"
    photos.mkdir()
    for name, label in [("dog_beach", "dog beach sand"), ("cat_sofa", "cat sofa indoor"),
                        ("mug", "coffee mug table")]:
        (photos / f"{name}.png").write_bytes(make_png(label, color=(len(name), 9, 9)))
    fake = {"ADSEED_EMBEDDER": "fake"}

    assert run(home, "search", "dog").returncode == 6  # not initialised: state error
    assert run(home, "init").returncode == 0
    ingest = run(home, "ingest", str(photos), "--volume", "main.bricks.seeds")
    assert ingest.stdout.strip() == "ingested 3, duplicates 0, rejected 0", ingest.stderr
    assert run(home, "search", "dog", **fake).returncode == 6  # nothing embedded yet
    embed = run(home, "embed", **fake)
    assert embed.returncode == 0 and embed.stdout.startswith("embedded 3, already embedded 0")
    assert run(home, "index", "sync", **fake).returncode == 0

    out = run(home, "search", "--json", "-k", "2", "dog beach", "cat sofa", **fake)
    assert out.returncode == 0, out.stderr
    lines = [json.loads(line) for line in out.stdout.splitlines()]
    assert [r["query"] for r in lines] == ["dog beach", "cat sofa"]
    assert lines[0]["hits"][0]["path"] == "/Volumes/main/bricks/seeds/dog_beach.png"
    assert lines[1]["hits"][0]["path"] == "/Volumes/main/bricks/seeds/cat_sofa.png"
    assert all(set(h) == {"path", "score"} for r in lines for h in r["hits"])

    assert run(home, "rm", "/Volumes/main/bricks/seeds/dog_beach.png").returncode == 0
    assert run(home, "index", "sync", **fake).returncode == 0
    out = run(home, "search", "--json", "-k", "3", "dog beach", **fake)
    paths = [h["path"] for h in json.loads(out.stdout)["hits"]]
    assert "/Volumes/main/bricks/seeds/dog_beach.png" not in paths and len(paths) == 2

    bad = run(home, "search", "-k", "0", "dog", **fake)
    assert bad.returncode == 2 and "-k" in bad.stderr
    bad = run(home, "embed", "--embedder", "nope")
    assert bad.returncode == 2 and bad.stderr.startswith("error: unknown embedder 'nope'")


@pytest.mark.slow
def test_demo_runs_offline_and_finds_the_obvious(tmp_path: Path) -> None:
    """The README's first command runs this job: real weights, sample photos, real index."""
    pytest.importorskip("skimage")
    out = run(tmp_path / "ws", "demo")
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert "ingest main.bricks.seeds: ingested 14, duplicates 0, rejected 0" in text
    assert "embed: embedded 15" in text
    ad_block = text.split("\n\nad for ", 1)[1]
    text = text.split("\n\nad for ", 1)[0]
    ad_file = Path(ad_block.splitlines()[-1].split("file: ", 1)[1])
    assert ad_block.startswith("'cat lovers who spend cosy evenings at home' from /Volumes/main/bricks/seeds/chelsea.png")
    from PIL import Image

    with Image.open(ad_file) as ad:
        assert ad.size == (1080, 1080) and ad.format == "PNG"
    blocks = {b.split("\n", 1)[0]: b for b in text.split("\n\n")[1:]}
    first_hit = {q: b.splitlines()[1].split()[-1] for q, b in blocks.items()}
    assert first_hit["cat lovers who spend cosy evenings at home"].endswith("/chelsea.png")
    assert first_hit["coffee drinkers starting their morning"].endswith("/coffee.png")
    assert first_hit["space enthusiasts who watch every launch"].endswith("/rocket.jpg")
    again = run(tmp_path / "ws", "demo")  # idempotent: nothing new the second time
    assert "ingested 0, duplicates 14, rejected 0" in again.stdout
