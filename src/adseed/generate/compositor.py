"""The default backend: lays the brand's product into the seed photo, with headline and CTA.

Offline, no weights, deterministic (same request → byte-identical PNG). Steps:

1. crop the seed to the format's aspect around its subject (``saliency.py``) and scale it
   to exactly the format's size;
2. cut the product out of the brand pack-shot (``cutout.py``);
3. pick the template that covers the least of the subject (``layout.py``), inside the
   format's safe zone; in the landscape format, when every full-bleed template would
   cover more than 8% of the subject, switch to the split design (photo left, a panel
   with product and text right) and crop the photo to its part of the width;
4. paste the product over a soft drop shadow; draw the headline (with a scrim only where
   the photo does not give 4.5:1 contrast) and the call to action on a button in the
   product's own accent colour (``typography.py``);
5. encode as PNG without metadata (``imaging.encode_png_fast``).

:meth:`Compositor.compose` returns the picture *and* where everything went, which the
service uses to score the product region and tests use to measure contrast.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from PIL import Image, ImageFilter

from adseed.errors import InvalidInput
from adseed.generate.base import AdRequest
from adseed.generate.cutout import FALLBACK_ACCENT, Product, cut_out
from adseed.generate.imaging import decode_image_checked, encode_png_fast, flatten_on_white
from adseed.generate.layout import (
    SPLIT_ABOVE,
    Box,
    Inputs,
    choose,
    is_landscape,
    product_size,
    safe_box,
    spec_for,
    split_photo_width,
    split_plan,
)
from adseed.generate.saliency import best_crop, saliency
from adseed.generate.typography import TextArea, clean_text, draw_button, draw_headline, fit_text

if TYPE_CHECKING:
    from adseed.config import Settings

DEFAULT_CTA = "Shop now"
PANEL = (246, 244, 239)  # the split design's panel: a warm off-white, like a shop page


@dataclass(frozen=True)
class Composition:
    """A composed ad before encoding, and where its parts are (pixel boxes)."""

    image: Image.Image
    crop: tuple[int, int, int, int]  # the seed region the photo shows
    layout: str
    product_box: tuple[int, int, int, int] | None
    product_cut: bool
    text: tuple[TextArea, ...]  # headline, then call to action


def default_headline(prompt: str) -> str:
    """A headline from the segment text when none is given: 'For dog owners who …'."""
    text = " ".join(str(prompt).split()).rstrip(".!?")
    if not text:
        raise InvalidInput("prompt is empty: describe the audience, or pass a headline")
    if text.lower().startswith("for "):
        text = text[4:]
    words, out = text.split(" "), "For"
    for word in words:  # keep it to a headline's length, cut at a word
        if len(out) + 1 + len(word) > 60:
            break
        out = f"{out} {word}"
    return out if out != "For" else f"For {text[:56]}"


class Compositor:
    """Seed photo + brand pack-shot → a finished ad in one of the standard formats."""

    name = "compositor"

    def __init__(self, font_path: str = "") -> None:
        self.font_path = font_path

    @classmethod
    def from_settings(cls, settings: Settings) -> Compositor:
        return cls(font_path=settings.ad_font)

    def generate(self, request: AdRequest) -> bytes:
        return self.generate_located(request)[0]

    def generate_located(
        self, request: AdRequest
    ) -> tuple[bytes, tuple[int, int, int, int] | None]:
        """The PNG and the product's box in it (for scoring the product where it is)."""
        composition = self.compose(request)
        return encode_png_fast(composition.image), composition.product_box

    def compose(self, request: AdRequest, draw_text: bool = True) -> Composition:
        """The ad as an image plus its layout; ``draw_text=False`` leaves out only the glyphs."""
        fmt = request.format
        headline = clean_text(
            request.headline or default_headline(request.prompt), "headline", self.font_path
        )
        cta_text = clean_text(request.cta or DEFAULT_CTA, "call to action", self.font_path)
        draft = (fmt.width // 2, fmt.height // 2)
        seed = flatten_on_white(decode_image_checked(request.seed, "seed image", draft=draft))
        product = None
        if request.brand is not None:
            brand = decode_image_checked(request.brand, "brand image", draft=(512, 512))
            product = cut_out(brand)
        subject = saliency(seed)
        crop = best_crop(subject, seed.size, fmt.width / fmt.height)
        canvas = seed.resize((fmt.width, fmt.height), Image.Resampling.LANCZOS, box=crop)
        inputs = self._inputs(request, headline, cta_text, product)
        plan = choose(inputs, subject.crop(crop, canvas.size))
        if is_landscape(fmt) and (plan is None or plan.covered > SPLIT_ABOVE):
            aspect = product.image.width / product.image.height if product else None
            plan = split_plan(inputs, aspect) or plan
            if plan is not None and plan.name.startswith("split"):
                crop, canvas = _split_canvas(seed, subject, fmt)
        if plan is None:
            raise InvalidInput(
                f"headline {headline!r} and call to action {cta_text!r} do not fit {fmt.name}: "
                "shorten them"
            )
        if product is not None and plan.product is not None:
            _paste_product(canvas, product, plan.product)
        accent = product.accent if product is not None else FALLBACK_ACCENT
        areas = (
            draw_headline(canvas, plan.headline, *plan.headline_at, draw_glyphs=draw_text),
            draw_button(canvas, plan.button.as_tuple(), plan.cta, accent, draw_glyphs=draw_text),
        )
        box = plan.product.as_tuple() if plan.product is not None else None
        cut = product.cut if product is not None else False
        return Composition(canvas, crop, plan.name, box, cut, areas)

    def _inputs(self, request, headline, cta_text, product) -> Inputs:
        fmt, spec = request.format, spec_for(request.format)
        safe = safe_box(fmt)
        cta = fit_text(cta_text, self.font_path, (safe.width // 2, spec.cta_px * 2),
                       spec.cta_px, 1, False)  # fmt: skip
        if cta is None:
            raise InvalidInput(f"call to action {cta_text!r} is too long for {fmt.name}")
        size = None
        if product is not None:
            size = product_size(fmt, product.image.width / product.image.height)
        return Inputs(fmt, safe, spec, headline, cta, size, self.font_path)


def _split_canvas(seed: Image.Image, subject, fmt) -> tuple[tuple[int, int, int, int], Image.Image]:
    """The split design's canvas: the photo cropped around the subject on the left, a panel."""
    width = split_photo_width(fmt)
    crop = best_crop(subject, seed.size, width / fmt.height)
    canvas = Image.new("RGB", (fmt.width, fmt.height), PANEL)
    canvas.paste(seed.resize((width, fmt.height), Image.Resampling.LANCZOS, box=crop), (0, 0))
    return crop, canvas


def _paste_product(canvas: Image.Image, product: Product, box: Box) -> None:
    """Scale the product into ``box`` (premultiplied, so edges do not go dark) over a shadow."""
    scaled = (
        product.image.convert("RGBa")
        .resize((box.width, box.height), Image.Resampling.LANCZOS)
        .convert("RGBA")
    )
    alpha = scaled.getchannel("A")
    blur = max(2, round(0.035 * box.height))
    offset = max(2, round(0.03 * box.height))
    margin = 3 * blur
    band = (
        max(0, box.x0 - margin),
        max(0, box.y0 - margin + offset),
        min(canvas.width, box.x1 + margin),
        min(canvas.height, box.y1 + margin + offset),
    )
    shadow = Image.new("L", (band[2] - band[0], band[3] - band[1]), 0)
    shadow.paste(alpha.point(lambda a: math.floor(a * 0.55)),
                 (box.x0 - band[0], box.y0 - band[1] + offset))  # fmt: skip
    canvas.paste((0, 0, 0), band, shadow.filter(ImageFilter.GaussianBlur(blur)))
    canvas.paste(scaled.convert("RGB"), (box.x0, box.y0), alpha)
