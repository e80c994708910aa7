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
import warnings

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
) -> Image.Image:
    """Fully decode ``data`` (catching truncation) and apply its EXIF orientation.

    The pixel count is checked from the header before decoding so a decompression
    bomb is refused without being inflated.
    """
    if not data:
        raise error(f"{what}: empty, not an image")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
            if img.width * img.height > max_pixels:
                raise error(f"{what}: {img.width}x{img.height} exceeds {max_pixels:,} pixels")
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


def encode_png_bytes(img: Image.Image) -> bytes:
    """PNG without metadata, so equal pixels always give equal bytes."""
    buf = io.BytesIO()
    img.save(buf, format="PNG", compress_level=6)
    return buf.getvalue()


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
