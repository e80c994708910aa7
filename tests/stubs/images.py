"""Small real input images for the backend tests: a photo-like seed and a cut-out pack-shot."""

from __future__ import annotations

import io

from PIL import Image, ImageDraw


def seed_jpeg(size: tuple[int, int] = (320, 240), hue: int = 0) -> bytes:
    """A JPEG with a gradient sky, a ground and a 'subject', so crops and colours matter."""
    w, h = size
    img = Image.new("RGB", size)
    draw = ImageDraw.Draw(img)
    for y in range(h):
        draw.line([(0, y), (w, y)], fill=((90 + hue) % 256, 140, 200 - y * 100 // h))
    draw.rectangle([0, 2 * h // 3, w, h], fill=(60, 140, 60))
    draw.ellipse([w // 3, h // 3, 2 * w // 3, 5 * h // 6], fill=(150, 100, 50))
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def brand_png(size: tuple[int, int] = (200, 260)) -> bytes:
    """An RGBA product cut-out: a bottle on a transparent background."""
    w, h = size
    img = Image.new("RGBA", size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(img)
    draw.rectangle([w // 4, h // 5, 3 * w // 4, h - 10], fill=(200, 30, 40, 255))
    draw.rectangle([w // 4, h // 2, 3 * w // 4, h // 2 + 30], fill=(255, 255, 255, 255))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def png_size(data: bytes) -> tuple[str | None, tuple[int, int]]:
    with Image.open(io.BytesIO(data)) as img:
        return img.format, img.size
