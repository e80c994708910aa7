"""Image helpers the generation backends share: checked decoding, cover-fit, PNG encoding.

Every backend must hand back PNG bytes of *exactly* the ad format, whatever size the
model produced, so the last step is always :func:`cover_fit_png`: scale to cover the
format, crop the overflow evenly from both sides, re-encode. All of it is
deterministic (same bytes in, same bytes out), which keeps lineage hashes stable.

Who is to blame for bad bytes depends on where they came from: a seed or brand image
that does not decode is the caller's problem (``InvalidInput``), an unreadable model
output is the provider's (``BackendError``); the ``error`` argument says which.
"""

from __future__ import annotations

import base64
import io
import struct
import warnings
import zlib

import numpy as np
from PIL import Image, ImageOps

from adseed.errors import AdseedError, BackendError, InvalidInput

# Providers work at about one megapixel; larger uploads only cost bandwidth.
MAX_PIXELS = 40_000_000


def decode_image_checked(
    data: bytes,
    what: str,
    *,
    error: type[AdseedError] = InvalidInput,
    max_pixels: int = MAX_PIXELS,
    draft: tuple[int, int] | None = None,
) -> Image.Image:
    """Fully decode ``data`` (catching truncation) and apply its EXIF orientation.

    The pixel count is checked from the header before decoding so a decompression
    bomb is refused without being inflated. ``draft`` lets a JPEG decode at a reduced
    scale straight from its DCT coefficients (2-8x faster) when no more is needed.
    """
    if not data:
        raise error(f"{what}: empty, not an image")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
            if img.width * img.height > max_pixels:
                raise error(f"{what}: {img.width}x{img.height} exceeds {max_pixels:,} pixels")
            if draft is not None and img.format == "JPEG":
                img.draft("RGB", draft)
            img.load()
    except AdseedError:
        raise
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise error(f"{what}: not a readable image ({exc})") from None
    return ImageOps.exif_transpose(img)


def flatten_on_white(img: Image.Image) -> Image.Image:
    """RGB with any transparency composited onto white.

    Pack-shots often arrive as cut-outs; dropping alpha naively turns their background
    black, which models then paint into the ad.
    """
    if img.mode in ("RGBA", "LA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        canvas = Image.new("RGB", rgba.size, (255, 255, 255))
        canvas.paste(rgba, mask=rgba.getchannel("A"))
        return canvas
    return img.convert("RGB")


def shrink_to_max_side(img: Image.Image, max_side: int) -> Image.Image:
    """Downscale (never upscale) so the longer side is at most ``max_side``."""
    longest = max(img.size)
    if longest <= max_side:
        return img
    scale = max_side / longest
    size = (max(1, round(img.width * scale)), max(1, round(img.height * scale)))
    return img.resize(size, Image.Resampling.LANCZOS)


def encode_png_bytes(img: Image.Image, compress_level: int = 6) -> bytes:
    """PNG without metadata, so equal pixels always give equal bytes.

    Any ``info`` the image carries (an ICC profile, text chunks from an input file) is
    dropped first: Pillow would otherwise copy some of it into the output.
    """
    clean = img.copy()
    clean.info = {}
    buf = io.BytesIO()
    clean.save(buf, format="PNG", compress_level=compress_level)
    return buf.getvalue()


def encode_png_fast(img: Image.Image) -> bytes:
    """PNG of an 8-bit L, RGB or RGBA image in about half the time of Pillow at level 1.

    Every row uses PNG's "Up" filter (computed in numpy) and one zlib stream at level 1.
    Pillow tries several filters per row; on photographic ads the fixed filter gave a
    file within 2% of Pillow's level-1 size in 29 ms instead of 55 ms (1080x1080, one
    core). No metadata chunks, so equal pixels give equal bytes.
    """
    color_type = {"L": 0, "RGB": 2, "RGBA": 6}.get(img.mode)
    if color_type is None:
        img = img.convert("RGBA" if "A" in img.getbands() else "RGB")
        color_type = 6 if img.mode == "RGBA" else 2
    width, height = img.size
    rows = np.asarray(img).reshape(height, -1)
    filtered = np.empty((height, rows.shape[1] + 1), dtype=np.uint8)
    filtered[:, 0] = 2
    filtered[0, 0] = 0  # the first row has nothing above it: filter "None"
    filtered[0, 1:] = rows[0]
    np.subtract(rows[1:], rows[:-1], out=filtered[1:, 1:])  # uint8 wraps, as PNG wants
    ihdr = struct.pack(">IIBBBBB", width, height, 8, color_type, 0, 0, 0)
    idat = zlib.compress(filtered.tobytes(), 1)
    chunks = _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + chunks


def _chunk(tag: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))


def cover_fit_image(img: Image.Image, width: int, height: int) -> Image.Image:
    """Scale to cover ``width``×``height`` and crop the overflow evenly (centre crop)."""
    return ImageOps.fit(
        flatten_on_white(img), (width, height), Image.Resampling.LANCZOS, centering=(0.5, 0.5)
    )


def cover_fit_png(
    data: bytes,
    width: int,
    height: int,
    *,
    what: str = "provider output",
    error: type[AdseedError] = BackendError,
) -> bytes:
    """Decode ``data``, cover-fit it to exactly ``width``×``height``, return PNG bytes."""
    img = decode_image_checked(data, what, error=error)
    return encode_png_bytes(cover_fit_image(img, width, height))


def upload_png(data: bytes, what: str, *, max_side: int) -> bytes:
    """A caller's image as a bounded PNG for upload (alpha kept: edits may use it)."""
    img = shrink_to_max_side(decode_image_checked(data, what), max_side)
    if img.mode not in ("RGB", "RGBA"):
        img = img.convert("RGBA" if "A" in img.getbands() or "transparency" in img.info else "RGB")
    return encode_png_bytes(img)


def jpeg_data_uri(data: bytes, what: str, *, max_side: int, max_bytes: int) -> str:
    """A caller's image as a ``data:image/jpeg;base64,…`` URI no larger than ``max_bytes``.

    Quality steps down until the encoding fits, because providers that take inline
    images recommend keeping them small.
    """
    img = flatten_on_white(shrink_to_max_side(decode_image_checked(data, what), max_side))
    for quality in (92, 85, 75, 60):
        buf = io.BytesIO()
        img.save(buf, format="JPEG", quality=quality)
        encoded = base64.b64encode(buf.getvalue()).decode("ascii")
        if len(encoded) <= max_bytes:
            return f"data:image/jpeg;base64,{encoded}"
    raise InvalidInput(f"{what}: still over {max_bytes:,} bytes as JPEG at {max_side}px")


# -- WCAG 2 contrast -------------------------------------------------------------------

# sRGB → linear light per 8-bit value (IEC 61966-2-1; WCAG 2's 0.03928 knee gives the
# same result on 8-bit values), and the relative-luminance weights.
_C = np.arange(256, dtype=np.float64) / 255.0
SRGB_TO_LINEAR = np.where(_C <= 0.04045, _C / 12.92, ((_C + 0.055) / 1.055) ** 2.4)
LUMA = np.array([0.2126, 0.7152, 0.0722])
_LUT_R, _LUT_G, _LUT_B = (SRGB_TO_LINEAR * w for w in LUMA)


def relative_luminance(rgb: np.ndarray) -> np.ndarray:
    """WCAG relative luminance of RGB values in 0..255 (any leading shape, last axis RGB)."""
    arr = np.asarray(rgb)
    if arr.dtype != np.uint8:
        arr = np.clip(np.rint(arr), 0, 255).astype(np.uint8)
    # one table per channel: three 1-D gathers are ~3x faster than gather + matmul
    return np.asarray(_LUT_R[arr[..., 0]] + _LUT_G[arr[..., 1]] + _LUT_B[arr[..., 2]])


def contrast_ratio(lum_a: np.ndarray | float, lum_b: np.ndarray | float) -> np.ndarray:
    """WCAG contrast ratio (lighter + 0.05) / (darker + 0.05), elementwise."""
    a, b = np.asarray(lum_a, dtype=np.float64), np.asarray(lum_b, dtype=np.float64)
    return np.asarray((np.maximum(a, b) + 0.05) / (np.minimum(a, b) + 0.05))


def worst_contrast(color: tuple[int, int, int], region: np.ndarray) -> float:
    """The lowest contrast between ``color`` and any pixel of ``region`` (H×W×3 uint8)."""
    lum = relative_luminance(np.asarray(region).reshape(-1, 3))
    if not lum.size:
        return 21.0
    text = relative_luminance(np.array(color, dtype=np.uint8))
    return float(contrast_ratio(text, lum).min())
