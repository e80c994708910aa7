"""``adseed generate`` as a subprocess: the JSON shape, reuse across processes, exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from adseed.config import resolve_settings
from adseed.tracing import TraceStore

from generate_fixtures import SEEDS, pack_shot, write_images

pytestmark = pytest.mark.e2e
ADSEED = Path(sys.executable).with_name("adseed")
SEGMENT = "dog owners who love the outdoors"


def run(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ADSEED_", "MLFLOW_"))}
    env["ADSEED_EMBEDDER"] = "fake"
    return subprocess.run([str(ADSEED), "--home", str(home), *args], env=env,
                          capture_output=True, text=True, timeout=300)  # fmt: skip


def test_generate_command(tmp_path: Path) -> None:
    home = tmp_path / "ws"
    assert run(home, "init").returncode == 0
    seeds = write_images(tmp_path / "seeds", SEEDS)
    brand = write_images(tmp_path / "brand", {"pack.png": pack_shot(label="pack")})
    assert run(home, "ingest", str(seeds), "--volume", "main.bricks.seeds").returncode == 0
    assert run(home, "ingest", str(brand), "--volume", "main.bricks.brand", "--kind", "brand").returncode == 0
    assert run(home, "embed").returncode == 0 and run(home, "index", "sync").returncode == 0

    first = run(home, "generate", SEGMENT)
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("candidates (retrieved):") and "trace: tr-" in first.stdout

    out = run(home, "generate", SEGMENT, "--seed-index", "1", "--generate", "--json",
              "--format", "1200x628", "--headline", "Fuel every adventure")  # fmt: skip
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert list(result) == ["candidates", "seed_index", "seed_path", "image_path", "scores", "trace_id"]
    assert result["seed_index"] == 1 and result["seed_path"] == result["candidates"][1]
    assert result["image_path"].startswith("/Volumes/main/bricks/generated/ad-1200x628-")
    assert (home / result["image_path"].removeprefix("/")).is_file()
    assert set(result["scores"]) == {"alignment", "brand_preservation", "seed_faithfulness"}

    store = TraceStore.for_settings(resolve_settings({"home": home}, env={}))
    retrieve = {s["name"]: s for s in store.spans(result["trace_id"])}["retrieve"]
    assert retrieve["attributes"]["vector_query"] is False  # remembered from the first process

    bad = run(home, "generate", SEGMENT, "--seed-index", "3", "--generate")
    assert bad.returncode == 2 and bad.stderr.startswith("error: seed index 3 is out of range")
    bad = run(home, "generate", SEGMENT, "--generate", "--brand", "/Volumes/main/bricks/brand/x.png")
    assert bad.returncode == 3 and "no file at /Volumes/main/bricks/brand/x.png" in bad.stderr
    assert len(list((home / "Volumes/main/bricks/generated").glob("*.png"))) == 1


def test_segment_id_and_brief_feed_the_creative_flow(tmp_path: Path) -> None:
    """--segment-id takes a discovered segment's description as the text; --brief puts the
    brief's headline and call to action on the ad (issues 5 and 7 meeting issue 4)."""
    from adseed.copy.service import headline_and_cta

    home = tmp_path / "ws"
    assert run(home, "init").returncode == 0
    seeds = write_images(tmp_path / "seeds", SEEDS)
    brand = write_images(tmp_path / "brand", {"pack.png": pack_shot(label="pack")})
    assert run(home, "ingest", str(seeds), "--volume", "main.bricks.seeds").returncode == 0
    assert run(home, "ingest", str(brand), "--volume", "main.bricks.brand", "--kind", "brand").returncode == 0
    assert run(home, "embed").returncode == 0 and run(home, "index", "sync").returncode == 0
    assert run(home, "audience", "simulate", "--users", "60", "--items-from", "main.bricks.seeds").returncode == 0
    segments = run(home, "audience", "segments", "--k", "2", "--json")
    assert segments.returncode == 0, segments.stderr
    first = json.loads(segments.stdout.splitlines()[0])

    brief = tmp_path / "brief.json"
    brief.write_text(json.dumps({"product": "Trail Mix Dog Food", "benefits": ["grain free", "high protein"],
                                 "audience": "active dog owners", "cta": "shop"}))
    out = run(home, "generate", "--segment-id", first["segment_id"], "--brief", str(brief), "--generate", "--json")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    store = TraceStore.for_settings(resolve_settings({"home": home}, env={}))
    spans = {s["name"]: s for s in store.spans(result["trace_id"])}
    assert spans["retrieve"]["inputs"]["segment_text"] == first["description"]
    headline, cta = headline_and_cta(json.loads(brief.read_text()))
    assert json.dumps(headline) in json.dumps(spans["generate"]["inputs"]) and json.dumps(cta) in json.dumps(spans["generate"]["inputs"])

    both = run(home, "generate", "dogs", "--segment-id", first["segment_id"])
    assert both.returncode == 2 and "exactly one" in both.stderr
    unknown = run(home, "generate", "--segment-id", "r9s9")
    assert unknown.returncode == 3
