"""The main job, end to end and offline: init, ingest, embed, index sync, searches, an ad.

Without ``--images`` it uses sample photos that scikit-image, scikit-learn and
matplotlib install with themselves, so it runs on any machine with the ``demo``
extra; with ``--images DIR`` it ingests that folder instead (the brand's photos).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path

from adseed.config import Settings
from adseed.errors import ConfigError
from adseed.progress import ProgressFactory, no_progress
from adseed.workspace import Workspace

SEED_VOLUME = "main.bricks.seeds"
BRAND_VOLUME = "main.bricks.brand"

# (package, folder inside it, files): photos only, no test patterns or diagrams.
SAMPLE_PHOTOS = [
    (
        "skimage",
        "data",
        [
            "astronaut.png",
            "chelsea.png",
            "coffee.png",
            "rocket.jpg",
            "motorcycle_left.png",
            "hubble_deep_field.jpg",
            "moon.png",
            "camera.png",
            "coins.png",
            "brick.png",
            "grass.png",
        ],
    ),
    ("sklearn", "datasets/images", ["china.jpg", "flower.jpg"]),
    ("matplotlib", "mpl-data/sample_data", ["grace_hopper.jpg"]),
]
SAMPLE_BRAND = ("matplotlib", "mpl-data/sample_data", "Minduka_Present_Blue_Pack.png")

SAMPLE_QUERIES = [
    "cat lovers who spend cosy evenings at home",
    "coffee drinkers starting their morning",
    "space enthusiasts who watch every launch",
    "people who dream of being an astronaut",
    "motorbike riders",
    "travellers who love ancient temples",
    "gardeners who love flowers",
    "stargazers and amateur astronomers",
]
PET_QUERIES = [
    "people who want a tiny dog they can carry in a handbag",
    "families looking for a gentle giant of a dog",
    "cat lovers who adore fluffy long-haired cats",
    "hikers who take their dog everywhere",
]


def _package_file(package: str, folder: str, name: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.origin:
        raise ConfigError(
            f"the demo photos come with {package!r}, which is not installed: "
            "pip install 'adseed[demo]' or pass --images DIR"
        )
    return Path(spec.origin).parent / folder / name


def sample_photos() -> list[Path]:
    return [_package_file(p, d, n) for p, d, names in SAMPLE_PHOTOS for n in names]


def run_demo(
    settings: Settings,
    images: Path | None = None,
    echo: Callable[[str], None] = lambda _line: None,
    progress: ProgressFactory = no_progress,
    k: int = 3,
) -> list:
    """Run every stage once and return the search results (also echoed line by line)."""
    ws = Workspace.init(settings)
    echo(f"workspace: {ws.home}")

    def on_reject(source: str, reason: str) -> None:
        echo(f"  rejected {source}: {reason}")

    seeds = [images] if images else sample_photos()
    report = ws.ingest(seeds, SEED_VOLUME, kind="seed", progress=progress, on_reject=on_reject)
    echo(f"ingest {SEED_VOLUME}: {report.summary()}")
    if images is None:
        brand = _package_file(*SAMPLE_BRAND)
        report = ws.ingest([brand], BRAND_VOLUME, kind="brand", on_reject=on_reject)
        echo(f"ingest {BRAND_VOLUME}: {report.summary()}")
    echo(f"embed: {ws.embed(progress=progress).summary()}")
    echo(f"index sync: {ws.sync_index(progress=progress).summary()}")
    queries = PET_QUERIES if images else SAMPLE_QUERIES
    results = ws.search(queries, k=k, kind="seed")
    for result in results:
        echo(f"\n{result.query}")
        for hit in result.hits:
            echo(f"  {hit.score:.3f}  {hit.path}")
    if images is None:
        _make_ad(ws, queries[0], echo)
    return results


def _make_ad(ws: Workspace, segment: str, echo: Callable[[str], None]) -> None:
    """The creative flow's last step: the top seed for a segment, composed into an ad."""
    from adseed.generate.service import generate_ad

    ad = generate_ad(ws, segment, seed_index=0, generate=True, headline="Cosy nights in",
                     cta="Shop now")  # fmt: skip
    scores = ", ".join(f"{k} {v:.3f}" for k, v in (ad.scores or {}).items())
    echo(f"\nad for {segment!r} from {ad.seed_path}:")
    echo(f"  {ad.image_path}  ({scores})")
    echo(f"  file: {ws.home / str(ad.image_path).lstrip('/')}")
