"""Creative scores stored with every generated ad: does it fit the segment, show the
product faithfully, and stay true to the seed photo?

* ``alignment``: cosine similarity, in the workspace embedder's space, between the
  segment text and the finished ad. The same space retrieval ranks seeds in, so it
  asks "would this ad have been retrieved for this text?". An ad whose photo does not
  show what the segment is about scores lower.
* ``brand_preservation``: masked normalised cross-correlation of the product cut out of
  the brand image against the ad (``locate.py``), at the box the backend reports, or
  at the best match anywhere. Measured on a beagle photo with an ACANA pack, all four
  formats: 0.998 at the compositor's box, 0.89-0.92 when searched for (a few pixels
  off), 0.46-0.48 for the same ad without the product (the best of ~10^4 chance
  alignments), below 0 for another-coloured pack at the product's box.
* ``seed_faithfulness``: cosine similarity, in the same embedder space, between the
  ad and the seed it was made from; a backend that swaps the dog for another animal,
  or a row that names the wrong seed, scores lower.

Cosines are those of the configured embedder (``conse`` by default; the ``fake``
embedder of the tests hashes image bytes, so its two cosine scores carry no meaning,
while ``brand_preservation`` needs no embedder at all).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from adseed.generate.cutout import cut_out
from adseed.generate.imaging import decode_image_checked
from adseed.generate.locate import locate, match_at

if TYPE_CHECKING:
    from adseed.embed.base import Embedder


@dataclass(frozen=True)
class Scores:
    alignment: float
    brand_preservation: float
    seed_faithfulness: float
    product_box: tuple[int, int, int, int] | None = None  # where the product was scored

    def to_dict(self) -> dict[str, float]:
        return {
            "alignment": round(self.alignment, 4),
            "brand_preservation": round(self.brand_preservation, 4),
            "seed_faithfulness": round(self.seed_faithfulness, 4),
        }


def score_ad(
    embedder: Embedder,
    segment_text: str,
    ad: bytes,
    seed: bytes,
    brand: bytes | None,
    product_box: tuple[int, int, int, int] | None = None,
) -> Scores:
    """Score one ad; ``product_box`` is where the backend placed the product, if it knows."""
    images = np.asarray(embedder.embed_images([ad, seed]), dtype=np.float64)
    text = np.asarray(embedder.embed_texts([segment_text]), dtype=np.float64)[0]
    alignment = _cosine(text, images[0])
    faithfulness = _cosine(images[0], images[1])
    preservation, box = brand_preservation(ad, brand, product_box)
    return Scores(alignment, preservation, faithfulness, box)


def brand_preservation(
    ad: bytes, brand: bytes | None, product_box: tuple[int, int, int, int] | None = None
) -> tuple[float, tuple[int, int, int, int] | None]:
    """(score in [0, 1], the box it was measured at); 0 when there is no brand image."""
    if brand is None:
        return 0.0, None
    product = cut_out(decode_image_checked(brand, "brand image", draft=(512, 512)))
    picture = Image.open(io.BytesIO(ad)).convert("RGB")
    if product_box is not None:
        return max(0.0, match_at(picture, product, product_box)), product_box
    score, box = locate(picture, product)
    return max(0.0, score), box


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    norm = float(np.linalg.norm(a) * np.linalg.norm(b))
    return float(a @ b) / norm if norm > 1e-12 else 0.0
