"""Where the headline, the call to action and the product go: safe zones and a few templates.

**Safe zones** (nothing but photo outside them):

* 1080x1920 (Stories, Reels): the top 14% and the bottom 20%, Meta's guidance for
  story ads (the profile bar and the reply / call-to-action overlay cover them), and
  6% on each side;
* 1080x1080 and 1080x1350 (feeds): 6% on every side (crops and rounded corners);
* 1200x628 (link and display ads): 8% at top and bottom, 5% on each side.

Inside the safe zone a handful of templates place the headline (top or bottom, or a
side column in the landscape format), the button, and the product in a corner. Each
template is scored by how much of the photo's subject it would cover (saliency mass
under the product, the button, and, weighted less because text over a scrim still
shows the photo, under the headline), plus a penalty for a headline the template
had to set smaller; the lowest wins, ties going to the first listed.

The landscape format has one more design, :func:`split_plan`: the photo on the left
58%, and a plain panel on the right holding product, headline and button. A 1.91:1
crop of an ordinary 4:3 photo leaves the subject filling the middle, where any
full-bleed template covers a good part of it; the compositor switches to the split
when the best full-bleed template would put headline, button and product over more
than ``SPLIT_ABOVE`` of the subject.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from adseed.generate.base import AdFormat
from adseed.generate.saliency import SaliencyMap
from adseed.generate.typography import TextBlock, fit_text

HEADLINE_WEIGHT, BUTTON_WEIGHT, PRODUCT_WEIGHT = 0.35, 1.0, 1.0
SHRINK_WEIGHT = 0.3  # cost of a headline set at half its size: a narrow column is harder to read
SPLIT_ABOVE = 0.08  # subject share a full-bleed landscape template may cover
SPLIT_PHOTO = 0.58  # the photo's share of the width in the split design


@dataclass(frozen=True)
class Box:
    x0: int
    y0: int
    x1: int
    y1: int

    @property
    def width(self) -> int:
        return self.x1 - self.x0

    @property
    def height(self) -> int:
        return self.y1 - self.y0

    def as_tuple(self) -> tuple[int, int, int, int]:
        return (self.x0, self.y0, self.x1, self.y1)

    def overlaps(self, other: Box, gap: int = 0) -> bool:
        return not (
            self.x1 + gap <= other.x0
            or other.x1 + gap <= self.x0
            or self.y1 + gap <= other.y0
            or other.y1 + gap <= self.y0
        )


@dataclass(frozen=True)
class Spec:
    """Per-format sizes: safe-zone margins (fractions), type sizes (px), product bounds."""

    top: float
    bottom: float
    side: float
    headline_px: int
    cta_px: int
    product_w: float  # of the safe zone's width
    product_h: float  # of the safe zone's height


SPECS: dict[str, Spec] = {
    "1080x1080": Spec(0.06, 0.06, 0.06, 76, 38, 0.40, 0.38),
    "1080x1350": Spec(0.06, 0.06, 0.06, 80, 40, 0.42, 0.33),
    "1080x1920": Spec(0.14, 0.20, 0.06, 88, 44, 0.50, 0.30),
    "1200x628": Spec(0.08, 0.08, 0.05, 50, 27, 0.30, 0.64),
}


def spec_for(fmt: AdFormat) -> Spec:
    """The spec of a known format, or one scaled from the square spec for any other size."""
    if fmt.name in SPECS:
        return SPECS[fmt.name]
    base, scale = SPECS["1080x1080"], min(fmt.width, fmt.height) / 1080
    return Spec(0.06, 0.06, 0.06, round(base.headline_px * scale), round(base.cta_px * scale),
                base.product_w, base.product_h)  # fmt: skip


def safe_box(fmt: AdFormat) -> Box:
    s = spec_for(fmt)
    return Box(
        round(fmt.width * s.side),
        round(fmt.height * s.top),
        fmt.width - round(fmt.width * s.side),
        fmt.height - round(fmt.height * s.bottom),
    )


@dataclass(frozen=True)
class Plan:
    """One complete placement: where the headline starts, the button, the product box."""

    name: str
    headline: TextBlock
    headline_at: tuple[int, int]
    cta: TextBlock
    button: Box
    product: Box | None
    cost: float = 0.0  # weighted subject coverage: what choose() minimises
    covered: float = 0.0  # share of the subject under headline, button and product

    @property
    def headline_box(self) -> Box:
        x, y = self.headline_at
        return Box(x, y, x + self.headline.width, y + self.headline.height)


@dataclass(frozen=True)
class Inputs:
    """What every template needs to place things."""

    fmt: AdFormat
    safe: Box
    spec: Spec
    headline: str
    cta: TextBlock
    product: tuple[int, int] | None  # product size in px, already fitted to the spec
    font_path: str

    @property
    def gap(self) -> int:
        return round(0.03 * min(self.fmt.width, self.fmt.height))

    def button_size(self) -> tuple[int, int]:
        pad = round(0.9 * self.cta.font.size)
        return self.cta.width + 2 * pad, round(self.cta.font.size * 2.0)

    def fit_headline(self, width: int, height: int) -> TextBlock | None:
        size = (width, height)
        return fit_text(self.headline, self.font_path, size, self.spec.headline_px, 3, True)


def product_size(fmt: AdFormat, aspect: float) -> tuple[int, int]:
    """The product's size in px: as large as the spec allows at its own aspect (w/h)."""
    s, safe = spec_for(fmt), safe_box(fmt)
    max_w, max_h = s.product_w * safe.width, s.product_h * safe.height
    scale = min(max_w / aspect, max_h)
    return max(1, math.floor(scale * aspect)), max(1, math.floor(scale))


def _corner(inp: Inputs, right: bool) -> Box | None:
    if inp.product is None:
        return None
    w, h, s = *inp.product, inp.safe
    return Box(s.x1 - w, s.y1 - h, s.x1, s.y1) if right else Box(s.x0, s.y1 - h, s.x0 + w, s.y1)


def _top(inp: Inputs, product_right: bool) -> Plan | None:
    """Headline across the top; product in a bottom corner, button in the other."""
    s, g = inp.safe, inp.gap
    block = inp.fit_headline(s.width, round(0.32 * s.height))
    if block is None:
        return None
    bw, bh = inp.button_size()
    bx = s.x0 if product_right else s.x1 - bw
    button = Box(bx, s.y1 - bh, bx + bw, s.y1)
    product = _corner(inp, product_right)
    plan = Plan(f"top/product-{'right' if product_right else 'left'}", block, (s.x0, s.y0),
                inp.cta, button, product)  # fmt: skip
    return plan if _fits(plan, g) else None


def _bottom(inp: Inputs, product_right: bool) -> Plan | None:
    """Product in a bottom corner; headline and button stacked beside it, bottom-aligned."""
    s, g = inp.safe, inp.gap
    product = _corner(inp, product_right)
    x0 = s.x0 if product_right or product is None else product.x1 + g
    x1 = s.x1 if not product_right or product is None else product.x0 - g
    bw, bh = inp.button_size()
    button = Box(x0, s.y1 - bh, x0 + bw, s.y1)
    block = inp.fit_headline(x1 - x0, round(0.45 * s.height) - bh - g)
    if block is None or x1 - x0 < bw:
        return None
    at = (x0, button.y0 - g - block.height)
    plan = Plan(f"bottom/product-{'right' if product_right else 'left'}", block, at,
                inp.cta, button, product)  # fmt: skip
    return plan if _fits(plan, g) else None


def _column(inp: Inputs, text_left: bool) -> Plan | None:
    """Landscape: headline and button in one half, vertically centred; product opposite."""
    s, g = inp.safe, inp.gap
    half = (s.width - g) // 2
    x0 = s.x0 if text_left else s.x1 - half
    bw, bh = inp.button_size()
    block = inp.fit_headline(half, s.height - bh - g)
    if block is None or bw > half:
        return None
    top = s.y0 + (s.height - (block.height + g + bh)) // 2
    button = Box(x0, top + block.height + g, x0 + bw, top + block.height + g + bh)
    product = _corner(inp, text_left)
    plan = Plan(f"column/text-{'left' if text_left else 'right'}", block, (x0, top),
                inp.cta, button, product)  # fmt: skip
    return plan if _fits(plan, g) else None


Template = Callable[[Inputs], Plan | None]
PORTRAIT: tuple[Template, ...] = (
    lambda i: _top(i, True),
    lambda i: _top(i, False),
    lambda i: _bottom(i, True),
    lambda i: _bottom(i, False),
)
LANDSCAPE: tuple[Template, ...] = (lambda i: _column(i, True), lambda i: _column(i, False))


def is_landscape(fmt: AdFormat) -> bool:
    return fmt.width / fmt.height > 1.3


def split_photo_width(fmt: AdFormat) -> int:
    return round(fmt.width * SPLIT_PHOTO)


def split_plan(inp: Inputs, aspect: float | None) -> Plan | None:
    """Product, headline and button stacked, left-aligned, centred in the right panel."""
    fmt = inp.fmt
    margin = round(max(0.08 * fmt.height, 0.05 * fmt.width))  # the format's safe zone
    x0, x1 = split_photo_width(fmt) + margin, fmt.width - margin
    top, bottom, g = margin, fmt.height - margin, inp.gap
    bw, bh = inp.button_size()
    product = None
    if aspect is not None:
        max_w, max_h = x1 - x0, 0.45 * (bottom - top)
        scale = min(max_w / aspect, max_h)
        product = (max(1, math.floor(scale * aspect)), max(1, math.floor(scale)))
    used = (product[1] + g) if product else 0
    block = inp.fit_headline(x1 - x0, bottom - top - used - bh - g)
    if block is None or bw > x1 - x0:
        return None
    y = top + (bottom - top - (used + block.height + g + bh)) // 2
    box = Box(x0, y, x0 + product[0], y + product[1]) if product else None
    y += used
    button = Box(x0, y + block.height + g, x0 + bw, y + block.height + g + bh)
    return Plan("split/photo-left", block, (x0, y), inp.cta, button, box)


def _fits(plan: Plan, gap: int) -> bool:
    boxes = [plan.headline_box, plan.button] + ([plan.product] if plan.product else [])
    return not any(a.overlaps(b, gap // 2) for i, a in enumerate(boxes) for b in boxes[i + 1 :])


def choose(inp: Inputs, subject: SaliencyMap) -> Plan | None:
    """The template that covers the least of the subject, or None when nothing fits."""
    templates = LANDSCAPE if is_landscape(inp.fmt) else PORTRAIT
    best: Plan | None = None
    for template in templates:
        plan = template(inp)
        if plan is None:
            continue
        masses = [subject.mass(plan.headline_box.as_tuple()), subject.mass(plan.button.as_tuple())]
        masses.append(subject.mass(plan.product.as_tuple()) if plan.product is not None else 0.0)
        cost = HEADLINE_WEIGHT * masses[0] + BUTTON_WEIGHT * masses[1] + PRODUCT_WEIGHT * masses[2]
        cost += SHRINK_WEIGHT * (1 - plan.headline.font.size / inp.spec.headline_px)
        if best is None or cost < best.cost - 1e-9:
            best = Plan(plan.name, plan.headline, plan.headline_at, plan.cta, plan.button,
                        plan.product, cost, sum(masses))  # fmt: skip
    return best
