"""Decide whether one candidate file's bytes are an image adseed will store.

Ingest reads files from folders nobody vetted, so every check here assumes hostile
bytes: the format is decided by content (magic bytes), never by extension; the pixel
count is read from the header and refused *before* any decoding, so a 20000×20000
PNG of a few hundred bytes cannot allocate gigabytes; and the image is then fully
decoded once, because a header that parses says nothing about a truncated body.
Every refusal is a :class:`RejectedFile` whose message is one short human reason.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image

from adseed.errors import RejectedFile

# Pillow format name → the formats its opener may report for that content.
_ACCEPTED = {
    "JPEG": {"JPEG", "MPO"},  # MPO: a JPEG with extra frames (phones); still a JPEG
    "PNG": {"PNG"},
    "WEBP": {"WEBP"},
    "GIF": {"GIF"},
    "BMP": {"BMP"},
}
ACCEPTED_FORMATS = tuple(_ACCEPTED)


@dataclass(frozen=True)
class ImageInfo:
    """What ingest records about an accepted image."""

    width: int
    height: int
    format: str  # Pillow's name: JPEG, PNG, WEBP, GIF or BMP


def sniff_format(data: bytes) -> str | None:
    """The format named by the file's magic bytes, or None; extensions are never trusted."""
    if data.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "GIF"
    if data[:2] == b"BM":
        return "BMP"
    return None


def check_image(data: bytes, *, max_pixels: int, max_file_bytes: int) -> ImageInfo:
    """Return width, height and format of ``data``, or raise RejectedFile saying why not."""
    if not data:
        raise RejectedFile("empty file (0 bytes)")
    if len(data) > max_file_bytes:
        raise RejectedFile(f"file too large: {len(data):,} bytes (limit {max_file_bytes:,})")
    fmt = sniff_format(data)
    if fmt is None:
        raise RejectedFile(f"not an image (accepted: {', '.join(ACCEPTED_FORMATS)})")
    with _open_header(data, fmt) as im:
        width, height = im.size
        if width < 1 or height < 1:
            raise RejectedFile(f"invalid {fmt} header: {width}x{height} pixels")
        if width * height > max_pixels:
            raise RejectedFile(
                f"too many pixels: {width}x{height} = {width * height:,} "
                f"(limit {max_pixels:,}), possible decompression bomb"
            )
        _decode(im, fmt)
    return ImageInfo(width=width, height=height, format=fmt)


def _open_header(data: bytes, fmt: str) -> Image.Image:
    """Parse only the header, turning Pillow's own bomb guard into our rejection.

    Pillow refuses (error) or warns about huge images inside ``Image.open``, before we
    see the size; the warning is made an error here so it cannot slip through as a
    line on stderr, and both become the same 'too many pixels' reason.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(data), formats=[fmt])
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise RejectedFile(f"too many pixels, possible decompression bomb ({exc})") from exc
    except Exception as exc:  # hostile bytes: Pillow raises many types on bad headers
        raise RejectedFile(f"truncated or corrupt {fmt}: {_short(exc)}") from exc
    if im.format not in _ACCEPTED[fmt]:
        im.close()
        raise RejectedFile(f"not a readable {fmt}: decoded as {im.format}")
    return im


def _decode(im: Image.Image, fmt: str) -> None:
    """Decode every pixel of the first frame, so truncated or corrupt bodies are caught."""
    try:
        im.load()
    except Exception as exc:  # hostile bytes: OSError, SyntaxError, ValueError, EOFError …
        raise RejectedFile(f"truncated or corrupt {fmt}: {_short(exc)}") from exc


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 120 else text[:117] + "..."
