"""Shared by the audience tests: a small labelled catalogue, embedded by the fake embedder."""

from __future__ import annotations

import random
from pathlib import Path

from adseed.workspace import Workspace

from conftest import make_png

VOLUME = "main.shop.items"
INTERESTS = [
    "golden retriever",
    "siamese cat",
    "pug dog",
    "persian cat",
    "beagle dog",
    "parrot bird",
    "goldfish",
    "horse",
]
SETTINGS = ["beach", "sofa", "snow", "park", "kitchen", "forest"]


def catalogue(
    ws: Workspace, folder: Path, per_interest: int = 6, seed: int = 0
) -> dict[str, list[str]]:
    """Ingest and embed ``per_interest`` photos per interest; returns interest → volume paths.

    Labels mix the interest with settings shared by every interest, so items of
    different interests overlap in the fake embedder's space.
    """
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for n, interest in enumerate(INTERESTS):
        for j in range(per_interest):
            label = f"{interest} {rng.choice(SETTINGS)} {rng.choice(SETTINGS)}"
            name = f"{interest.replace(' ', '_')}_{j:02d}.png"
            (folder / name).write_bytes(make_png(label, color=(j * 30 % 255, n * 20, 7)))
    report = ws.ingest([folder], VOLUME)
    assert report.rejected == 0
    ws.embed()
    prefix = "/Volumes/" + VOLUME.replace(".", "/") + "/"
    return {
        interest: [f"{prefix}{interest.replace(' ', '_')}_{j:02d}.png" for j in range(per_interest)]
        for interest in INTERESTS
    }
