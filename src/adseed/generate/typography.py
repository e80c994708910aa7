"""Headline and call to action: fonts, fitting, and text that stays readable on any photo.

**Font.** Pillow's bundled scalable font (``ImageFont.load_default(size=...)``, Pillow
≥ 10.1 with FreeType): Aileron Regular by Sora Sagano, released under CC0 (public
domain), embedded in Pillow itself, so every machine with adseed installed renders the
same pixels and nothing has to ship with adseed. It covers ASCII plus a few marks
(curly quotes, ellipsis, ©, ™), not accented letters; ``ad_font`` (``ADSEED_AD_FONT``)
names any TTF/OTF file to use instead. Text with a character the font lacks is
refused with the character named, never drawn as boxes. Regular weight is made
bolder for headlines with a stroke of the text's own colour.

**Contrast.** WCAG 2 contrast (relative luminance of linearised sRGB) between the text
colour and *every* pixel behind the text's box must reach 4.5:1 (WCAG AA, normal text).
White or near-black is chosen, whichever needs less help; when the photo alone does
not give 4.5:1, a translucent scrim (black behind white text, white behind dark text)
is laid behind the text, just opaque enough, feathered outside the box. The result is
then measured on the actual pixels, and the scrim made darker until it passes. The
call to action sits on a solid button, where white or near-black always reaches
≥ 4.58:1 whatever the button colour.
"""

from __future__ import annotations

import math
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from adseed.errors import ConfigError, InvalidInput
from adseed.generate.imaging import contrast_ratio, relative_luminance, worst_contrast

MIN_CONTRAST = 4.5
TARGET = 4.6  # aim a little above the bar: composited pixels round to integers
WHITE, INK, BLACK = (255, 255, 255), (17, 17, 17), (0, 0, 0)
LINE_SPACING = 1.12
WHITE_BIAS = 0.15
MAX_TEXT_CHARS = {"headline": 90, "call to action": 24}
Font = ImageFont.FreeTypeFont


@lru_cache(maxsize=128)
def load_font(path: str, size: int) -> Font:
    """The font at ``path`` (empty: Pillow's bundled Aileron) in ``size`` pixels."""
    if not path:
        font = ImageFont.load_default(size=size)
        if not isinstance(font, ImageFont.FreeTypeFont):  # Pillow built without FreeType
            raise ConfigError("Pillow has no FreeType support: set ad_font to a TTF/OTF file")
        return font
    try:
        return ImageFont.truetype(path, size)
    except OSError as exc:
        raise ConfigError(f"ad_font {path!r}: cannot load it as a font ({exc})") from exc


@lru_cache(maxsize=4096)
def _has_glyph(path: str, char: str) -> bool:
    """Whether the font draws ``char`` as something other than its 'missing' glyph."""
    font = load_font(path, 32)
    missing = font.getmask("\uffff")
    mask = font.getmask(char)
    return bool(mask.size != missing.size or bytes(mask) != bytes(missing))


def clean_text(text: str, what: str, font_path: str) -> str:
    """``text`` normalised (NFKC, single spaces), or InvalidInput saying what is wrong."""
    if not isinstance(text, str):
        raise InvalidInput(f"{what} must be text, not {type(text).__name__}")
    clean = " ".join(unicodedata.normalize("NFKC", text).split())
    if not clean:
        raise InvalidInput(f"{what} is empty")
    limit = MAX_TEXT_CHARS.get(what, 90)
    if len(clean) > limit:
        raise InvalidInput(f"{what} has {len(clean)} characters; at most {limit} fit an ad")
    for char in sorted(set(clean)):
        if not char.isprintable():
            raise InvalidInput(f"{what} contains a control character (U+{ord(char):04X})")
        if not char.isspace() and not _has_glyph(font_path, char):
            raise InvalidInput(
                f"{what}: the font has no glyph for {char!r} (U+{ord(char):04X}); "
                "set ad_font (ADSEED_AD_FONT) to a TTF/OTF font that covers it"
            )
    return clean


@dataclass(frozen=True)
class TextBlock:
    """Wrapped lines in one font; ``width``/``height`` are the block's layout extent."""

    lines: tuple[str, ...]
    font: Font
    stroke: int

    @property
    def line_height(self) -> int:
        return math.ceil(self.font.size * LINE_SPACING)

    @property
    def width(self) -> int:
        return max(math.ceil(self.font.getlength(line)) for line in self.lines) + 2 * self.stroke

    @property
    def height(self) -> int:
        return self.line_height * len(self.lines)


def wrap(text: str, font: Font, max_width: float) -> list[str] | None:
    """Greedy word wrap; None when one word alone is wider than ``max_width``."""
    lines: list[str] = []
    for word in text.split(" "):
        if font.getlength(word) > max_width:
            return None
        if lines and font.getlength(f"{lines[-1]} {word}") <= max_width:
            lines[-1] = f"{lines[-1]} {word}"
        else:
            lines.append(word)
    return lines


def fit_text(
    text: str, font_path: str, box: tuple[int, int], size: int, max_lines: int, bold: bool
) -> TextBlock | None:
    """The largest size from ``size`` down to 55% of it at which ``text`` fits ``box``."""
    max_w, max_h = box
    floor = max(10, round(size * 0.55))
    while size >= floor:
        font = load_font(font_path, size)
        stroke = max(1, round(size / 40)) if bold else 0
        lines = wrap(text, font, max_w - 2 * stroke)
        if lines is not None and len(lines) <= max_lines:
            block = TextBlock(tuple(lines), font, stroke)
            if block.height <= max_h:
                return block
        size = math.floor(size * 0.93)
    return None


@dataclass(frozen=True)
class TextArea:
    """Where text was drawn, in which colour, and the worst contrast measured behind it."""

    box: tuple[int, int, int, int]
    color: tuple[int, int, int]
    contrast: float
    scrim_alpha: float


def draw_headline(
    canvas: Image.Image, block: TextBlock, x: int, y: int, draw_glyphs: bool = True
) -> TextArea:
    """Draw ``block`` at (x, y) on ``canvas``, adding a scrim first when contrast needs it.

    ``draw_glyphs=False`` does everything but the glyphs, so a test can measure the
    contrast against exactly the pixels the text would sit on.
    """
    pad = max(4, round(block.font.size * 0.2))
    box = _clip((x - pad, y - pad, x + block.width + pad, y + block.height + pad), canvas.size)
    region = np.asarray(canvas.crop(box))
    lum = relative_luminance(region)
    options = [(_needed_alpha(region, lum, WHITE, BLACK), WHITE, BLACK)]
    options.append((_needed_alpha(region, lum, INK, WHITE), INK, WHITE))
    # white text wins unless dark text needs clearly less scrim: it reads as an ad's voice
    alpha, color, scrim = options[1] if options[1][0] + WHITE_BIAS < options[0][0] else options[0]
    if alpha > 0:
        alpha, contrast = _apply_scrim(canvas, box, color, scrim, alpha, block.font.size * 0.6)
    else:
        contrast = float(contrast_ratio(_lum_of(color), lum).min()) if lum.size else 21.0
    draw = ImageDraw.Draw(canvas)
    for i, line in enumerate(block.lines if draw_glyphs else ()):
        pos = (x + block.stroke, y + i * block.line_height)
        draw.text(pos, line, font=block.font, fill=color, stroke_width=block.stroke,
                  stroke_fill=color, anchor="la")  # fmt: skip
    return TextArea(box, color, contrast, alpha)


def draw_button(
    canvas: Image.Image,
    box: tuple[int, int, int, int],
    block: TextBlock,
    fill: tuple[int, ...],
    draw_glyphs: bool = True,
) -> TextArea:
    """A solid rounded button with ``block`` centred on it; text colour by contrast."""
    fill3 = (int(fill[0]), int(fill[1]), int(fill[2]))
    lum = _lum_of(fill3)
    on_white = float(contrast_ratio(lum, _lum_of(WHITE)))
    on_ink = float(contrast_ratio(lum, _lum_of(INK)))
    color = WHITE if on_white >= on_ink else INK
    x0, y0, x1, y1 = box
    radius = (y1 - y0) // 2
    _soft_shadow(canvas, box, radius)
    draw = ImageDraw.Draw(canvas)
    draw.rounded_rectangle(box, radius, fill=fill3)
    centre, text = ((x0 + x1) / 2, (y0 + y1) / 2), block.lines[0]
    ink = draw.textbbox(centre, text, font=block.font, anchor="mm")
    pad = max(2, round(block.font.size * 0.15))
    area = _clip((ink[0] - pad, ink[1] - pad, ink[2] + pad, ink[3] + pad), canvas.size)
    contrast = worst_contrast(color, np.asarray(canvas.crop(area)))  # measured, before the text
    if draw_glyphs:
        draw.text(centre, text, font=block.font, fill=color, anchor="mm")
    return TextArea(area, color, contrast, 0.0)


def _soft_shadow(canvas: Image.Image, box: tuple[int, int, int, int], radius: int) -> None:
    x0, y0, x1, y1 = box
    blur = max(2, (y1 - y0) // 6)
    margin = 3 * blur
    band = _clip((x0 - margin, y0 - margin + blur, x1 + margin, y1 + margin + blur), canvas.size)
    mask = Image.new("L", (band[2] - band[0], band[3] - band[1]), 0)
    shape = (x0 - band[0], y0 - band[1] + blur, x1 - band[0], y1 - band[1] + blur)
    ImageDraw.Draw(mask).rounded_rectangle(shape, radius, fill=90)
    canvas.paste(BLACK, band, mask.filter(ImageFilter.GaussianBlur(blur)))


def _lum_of(color: tuple[int, ...]) -> float:
    return float(relative_luminance(np.array(color[:3], dtype=np.uint8)))


def _needed_alpha(
    region: np.ndarray, lum: np.ndarray, color: tuple[int, int, int], scrim: tuple[int, ...]
) -> float:
    """Smallest scrim opacity giving ``TARGET`` contrast against the most critical pixels.

    Exact on the 4096 pixels whose luminance is closest to the text's (the critical
    ones); :func:`_apply_scrim` then verifies on every pixel.
    """
    text_lum = _lum_of(color)
    flat_lum = lum.reshape(-1)
    if not flat_lum.size or float(contrast_ratio(text_lum, flat_lum).min()) >= TARGET:
        return 0.0
    distance = np.abs(flat_lum - text_lum)
    n = min(4096, distance.size)
    order = np.argpartition(distance, n - 1)[:n]
    critical = region.reshape(-1, 3)[order].astype(np.float64)
    target = np.array(scrim, dtype=np.float64)

    def passes(a: float) -> bool:
        mixed = np.clip(np.rint(critical * (1 - a) + target * a), 0, 255)
        return float(contrast_ratio(text_lum, relative_luminance(mixed)).min()) >= TARGET

    low, high = 0.0, 1.0
    for _ in range(10):
        mid = (low + high) / 2
        low, high = (low, mid) if passes(mid) else (mid, high)
    return high


def _apply_scrim(
    canvas: Image.Image,
    box: tuple[int, int, int, int],
    color: tuple[int, int, int],
    scrim: tuple[int, int, int],
    alpha: float,
    feather: float,
) -> tuple[float, float]:
    """Lay the scrim and verify the contrast on the real pixels: (final alpha, contrast).

    The scrim is a rounded panel ``feather/2`` larger than ``box`` with a blurred edge;
    inside ``box`` it is exactly uniform, so the measured contrast holds everywhere.
    """
    grow = max(2, math.ceil(feather / 2))
    band = _clip((box[0] - 2 * grow, box[1] - 2 * grow, box[2] + 2 * grow, box[3] + 2 * grow),
                 canvas.size)  # fmt: skip
    before = canvas.crop(band)
    inner = (box[0] - band[0], box[1] - band[1], box[2] - band[0] - 1, box[3] - band[1] - 1)
    panel = (inner[0] - grow, inner[1] - grow, inner[2] + grow, inner[3] + grow)
    contrast = 0.0
    for _ in range(12):
        level = min(255, math.ceil(alpha * 255))
        soft = Image.new("L", before.size, 0)
        ImageDraw.Draw(soft).rounded_rectangle(panel, grow, fill=level)
        soft = soft.filter(ImageFilter.GaussianBlur(grow / 3))
        sharp = Image.new("L", before.size, 0)
        ImageDraw.Draw(sharp).rectangle(inner, fill=level)
        mask = Image.fromarray(np.maximum(np.asarray(soft), np.asarray(sharp)))
        layer = before.copy()
        layer.paste(scrim, (0, 0, *before.size), mask)
        canvas.paste(layer, band[:2])
        contrast = worst_contrast(color, np.asarray(canvas.crop(box)))
        if contrast >= MIN_CONTRAST or level == 255:
            break
        alpha = min(1.0, alpha + 0.04)
    return level / 255, contrast


def _clip(box: tuple[float, ...], size: tuple[int, int]) -> tuple[int, int, int, int]:
    x0, y0, x1, y1 = box
    return (max(0, int(x0)), max(0, int(y0)), min(size[0], int(x1)), min(size[1], int(y1)))
