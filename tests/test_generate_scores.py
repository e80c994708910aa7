"""The creative scores mean something: a missing product, a wrong seed or a photo off the
segment each score lower than the faithful ad."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from adseed.generate.base import FORMATS, AdRequest
from adseed.generate.compositor import Compositor
from adseed.generate.cutout import cut_out
from adseed.generate.locate import locate
from adseed.generate.scores import brand_preservation, score_ad

from generate_fixtures import pack_shot, seed_photo

SEGMENT = "dog owners who love outdoor activities"


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_product_is_found_where_the_compositor_put_it(fmt: str) -> None:
    brand = pack_shot()
    comp = Compositor().compose(AdRequest(seed_photo(), brand, SEGMENT, FORMATS[fmt]))
    score, box = locate(comp.image, cut_out(Image.open(io.BytesIO(brand))))
    assert score > 0.85
    expected = comp.product_box
    overlap_w = min(box[2], expected[2]) - max(box[0], expected[0])
    overlap_h = min(box[3], expected[3]) - max(box[1], expected[1])
    area = (expected[2] - expected[0]) * (expected[3] - expected[1])
    assert overlap_w > 0 and overlap_h > 0 and overlap_w * overlap_h > 0.7 * area


def test_missing_or_other_product_scores_lower() -> None:
    brand, other = pack_shot(), pack_shot(color=(30, 120, 200))
    compositor = Compositor()
    ads = {
        name: compositor.generate_located(AdRequest(seed_photo(), b, SEGMENT, FORMATS["1080x1080"]))
        for name, b in {"faithful": brand, "missing": None, "other": other}.items()
    }
    known = brand_preservation(ads["faithful"][0], brand, ads["faithful"][1])[0]
    searched = brand_preservation(ads["faithful"][0], brand)[0]  # as for a hosted backend
    missing = brand_preservation(ads["missing"][0], brand)[0]
    other_searched = brand_preservation(ads["other"][0], brand)[0]
    other_at_box = brand_preservation(ads["other"][0], brand, ads["other"][1])[0]
    assert known > 0.95 and searched > 0.85
    assert missing < searched - 0.2 and other_searched < searched - 0.2
    assert other_at_box < 0.5
    assert brand_preservation(ads["faithful"][0], None) == (0.0, None)


@pytest.mark.slow
@pytest.mark.datasets
def test_off_segment_seed_and_wrong_seed_score_lower(datasets: Path, tmp_path: Path) -> None:
    """ConSE (real weights): dog photos align better with a dog segment than cats or a
    scene do, and each ad is closer to its own seed than to another photo."""
    from adseed.config import resolve_settings
    from adseed.embed.base import build_embedder

    embedder = build_embedder("conse", resolve_settings({"home": tmp_path}, env={}))
    brand = (datasets / "products" / "14_1.jpg").read_bytes()

    def first(folder: str, n: int = 1) -> bytes:
        return sorted((datasets / folder).glob("*.jpg"))[n].read_bytes()

    dogs = [first("pets/beagle"), first("pets/samoyed"), first("pets/english_setter")]
    others = [first("pets/Persian"), first("pets/Siamese"), first("scenes", 5)]
    compositor = Compositor()

    def scores(seed: bytes, against: bytes | None = None):
        ad, box = compositor.generate_located(AdRequest(seed, brand, SEGMENT, FORMATS["1080x1080"]))
        return score_ad(embedder, SEGMENT, ad, against or seed, brand, box)

    dog_scores = [scores(s) for s in dogs]
    other_scores = [scores(s) for s in others]
    mean = lambda xs: sum(xs) / len(xs)  # noqa: E731
    assert mean([s.alignment for s in dog_scores]) > mean([s.alignment for s in other_scores]) + 0.05
    assert min(s.alignment for s in dog_scores) > other_scores[-1].alignment  # the scene
    for i, seed in enumerate(dogs + others):
        wrong = (dogs + others)[(i + 3) % 6]  # a dog ad against a cat seed and vice versa
        faithful = (dog_scores + other_scores)[i].seed_faithfulness
        assert scores(seed, against=wrong).seed_faithfulness < faithful - 0.2
