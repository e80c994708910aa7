"""Find the brand's product in an ad and say how faithfully it appears there.

The measure is a *masked, colour normalised cross-correlation* (NCC) between the ad and
the product cut out of the brand image (``cutout.py``), over the product's own pixels
only (its mask), so the background behind the product does not count. It is taken
twice and the lower value kept: with each channel's mean removed (structure: the
pack's print and shape, blind to a colour cast), and with one mean for all three
channels (so a recoloured pack scores low too). 1.0 is a pixel-perfect copy up to
brightness and contrast.

* When the backend says where it put the product (the compositor does), the score is
  taken at that box: :func:`match_at`.
* Otherwise (hosted and local models repaint the whole picture), :func:`locate` slides
  the product over the ad at 14 sizes, from 12% to 75% of the ad's height, plus a
  finer pass around the best, with the structural NCC (its chance maximum over ~10^4
  positions is lower); the correlations come from FFTs (Lewis's fast normalised
  cross-correlation with a mask, as in Padfield, 2012) on the ad shrunk to 192 px,
  about 0.1 s. The best box is then scored as above at full resolution.
"""

from __future__ import annotations

import numpy as np
from PIL import Image
from scipy.signal import fftconvolve

from adseed.generate.cutout import Product

WORK = 192  # the ad's longer side while searching
TEMPLATE = 96  # the product's longer side when scored at a known box
_SIZES = np.geomspace(0.12, 0.75, 14)


def _template(product: Product, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """The product's RGB (float) and binary mask at ``size``, the mask eroded by its blend."""
    scaled = product.image.resize(size, Image.Resampling.BILINEAR)
    rgb = np.asarray(scaled.convert("RGB"), dtype=np.float64)
    mask = np.asarray(scaled.getchannel("A")) > 200
    return rgb, mask.astype(np.float64)


def _ncc_single(region: np.ndarray, rgb: np.ndarray, mask: np.ndarray) -> float:
    """min(structural NCC, colour NCC) of ``region`` against the masked template."""
    n = mask.sum()
    if n < 16:
        return 0.0
    m = mask[..., None]
    values = []
    for axes in ((0, 1), None):  # per-channel means, then one mean for all channels
        t = rgb - (rgb * m).sum(axis=axes) / (n if axes else 3 * n)
        i = region - (region * m).sum(axis=axes) / (n if axes else 3 * n)
        den = float(np.sqrt((m * t * t).sum() * (m * i * i).sum()))
        values.append(float((m * t * i).sum()) / den if den > 1e-9 else 0.0)
    return min(values)


def match_at(ad: Image.Image, product: Product, box: tuple[int, int, int, int]) -> float:
    """The masked colour NCC of the product against the ad's pixels inside ``box``."""
    x0, y0, x1, y1 = box
    if x1 - x0 < 2 or y1 - y0 < 2:
        return 0.0
    scale = TEMPLATE / max(x1 - x0, y1 - y0)
    size = (max(2, round((x1 - x0) * scale)), max(2, round((y1 - y0) * scale)))
    region = ad.convert("RGB").resize(size, Image.Resampling.BILINEAR, box=box)
    rgb, mask = _template(product, size)
    return _ncc_single(np.asarray(region, dtype=np.float64), rgb, mask)


def locate(ad: Image.Image, product: Product) -> tuple[float, tuple[int, int, int, int] | None]:
    """The best (score, box in ad pixels) for the product anywhere in the ad."""
    scale = WORK / max(ad.size)
    small = ad.convert("RGB").resize(
        (max(8, round(ad.width * scale)), max(8, round(ad.height * scale))),
        Image.Resampling.BILINEAR,
    )
    image = np.asarray(small, dtype=np.float64)
    aspect = product.image.width / product.image.height
    best = (-1.0, (0, 0, 0, 0), 0.0)
    for fraction in _SIZES:
        best = max(best, _search(image, product, fraction * small.height, aspect), key=_first)
    for fraction in best[2] * np.array([0.92, 0.96, 1.04, 1.08]) / small.height:
        best = max(best, _search(image, product, fraction * small.height, aspect), key=_first)
    score, (x0, y0, x1, y1), _ = best
    if score <= 0:
        return 0.0, None
    box = (round(x0 / scale), round(y0 / scale), round(x1 / scale), round(y1 / scale))
    return match_at(ad, product, box), box


def _first(item: tuple[float, tuple[int, int, int, int], float]) -> float:
    return item[0]


def _search(
    image: np.ndarray, product: Product, height: float, aspect: float
) -> tuple[float, tuple[int, int, int, int], float]:
    h, w = max(4, round(height)), max(4, round(height * aspect))
    if h >= image.shape[0] or w >= image.shape[1]:
        return (-1.0, (0, 0, 0, 0), height)
    rgb, mask = _template(product, (w, h))
    n = mask.sum()
    if n < 16:
        return (-1.0, (0, 0, 0, 0), height)
    flip = mask[::-1, ::-1]
    num = np.zeros((image.shape[0] - h + 1, image.shape[1] - w + 1))
    var_i = np.zeros_like(num)
    var_t = 0.0
    for c in range(3):  # structural NCC: each channel's own mean removed
        t = (rgb[..., c] - (rgb[..., c] * mask).sum() / n) * mask
        var_t += float((t * t).sum())
        s1 = fftconvolve(image[..., c], flip, mode="valid")
        s2 = fftconvolve(image[..., c] ** 2, flip, mode="valid")
        num += fftconvolve(image[..., c], t[::-1, ::-1], mode="valid")
        var_i += np.maximum(s2 - s1 * s1 / n, 0.0)
    ncc = np.where(var_i > 1e-6 * n, num / np.sqrt(np.maximum(var_i * var_t, 1e-12)), 0.0)
    row, col = np.unravel_index(int(np.argmax(ncc)), ncc.shape)
    return float(ncc[row, col]), (int(col), int(row), int(col) + w, int(row) + h), height
