"""The compositor backend: exact sizes, byte-identical output, readable text in safe zones,
the product cut out and kept off the subject, hostile text refused."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from adseed.errors import InvalidInput
from adseed.generate.base import FORMATS, AdRequest, parse_format
from adseed.generate.compositor import Compositor, default_headline
from adseed.generate.cutout import cut_out
from adseed.generate.imaging import relative_luminance, worst_contrast
from adseed.generate.layout import safe_box

from generate_fixtures import pack_shot, seed_photo

SEGMENT = "dog owners who love outdoor activities"


def _request(fmt: str = "1080x1080", seed: bytes | None = None, brand: bytes | None = b"", **kw):
    seed = seed if seed is not None else seed_photo()
    brand = pack_shot() if brand == b"" else brand
    return AdRequest(seed, brand, SEGMENT, parse_format(fmt), **kw)


def _chunks(png: bytes) -> list[bytes]:
    out, pos = [], 8
    while pos < len(png):
        length = int.from_bytes(png[pos : pos + 4], "big")
        out.append(png[pos + 4 : pos + 8])
        pos += 12 + length
    return out


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_exact_size_and_byte_identical(fmt: str) -> None:
    request = _request(fmt)
    first = Compositor().generate(request)
    again = Compositor().generate(_request(fmt))  # a fresh instance, fresh input bytes
    assert first == again
    with Image.open(io.BytesIO(first)) as im:
        assert (im.format, im.size, im.mode) == ("PNG", (FORMATS[fmt].width, FORMATS[fmt].height), "RGB")
    assert _chunks(first) == [b"IHDR", b"IDAT", b"IEND"]  # no time, text or profile chunks


def test_different_inputs_give_different_ads() -> None:
    base = Compositor().generate(_request())
    assert Compositor().generate(_request(headline="Fuel every adventure")) != base
    assert Compositor().generate(_request(seed=seed_photo(subject=(0.2, 0.5)))) != base


def _plain_backgrounds() -> dict[str, bytes]:
    extremes = {
        "white": Image.new("RGB", (400, 300), (255, 255, 255)),
        "black": Image.new("RGB", (400, 300), (0, 0, 0)),
        "mid-grey": Image.new("RGB", (400, 300), (119, 119, 119)),
        "noise": Image.fromarray(np.random.default_rng(3).integers(0, 256, (300, 400, 3), np.uint8)),
    }
    cases = {}
    for name, img in extremes.items():
        buf = io.BytesIO()
        img.save(buf, format="PNG")
        cases[name] = buf.getvalue()
    return cases


@pytest.mark.parametrize("fmt", list(FORMATS))
@pytest.mark.parametrize("background", ["white", "black", "mid-grey", "noise"])
def test_text_contrast_at_least_4_5_measured_on_the_pixels(fmt: str, background: str) -> None:
    """Contrast of the text colour against every pixel the text sits on, glyphs left out."""
    seed = _plain_backgrounds()[background]
    compositor = Compositor()
    bare = compositor.compose(_request(fmt, seed=seed), draw_text=False)
    drawn = compositor.compose(_request(fmt, seed=seed))
    assert [a.box for a in bare.text] == [a.box for a in drawn.text]
    for area in drawn.text:
        x0, y0, x1, y1 = area.box
        behind = np.asarray(bare.image)[y0:y1, x0:x1]
        assert worst_contrast(area.color, behind) >= 4.5, (background, fmt, area)
        ink = np.asarray(drawn.image)[y0:y1, x0:x1]
        assert (ink != behind).any(axis=-1).mean() > 0.03  # the text really is there
        assert (ink == np.array(area.color, dtype=np.uint8)).all(axis=-1).any()


@pytest.mark.datasets
def test_text_contrast_on_real_photos(datasets: Path) -> None:
    photos = ["pets/samoyed", "pets/Bombay", "pets/beagle", "scenes"]
    for folder in photos:
        path = sorted((datasets / folder).glob("*.jpg"))[0]
        for fmt in FORMATS:
            request = _request(fmt, seed=path.read_bytes())
            bare = Compositor().compose(request, draw_text=False)
            for area in Compositor().compose(request).text:
                x0, y0, x1, y1 = area.box
                assert worst_contrast(area.color, np.asarray(bare.image)[y0:y1, x0:x1]) >= 4.5


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_text_and_product_stay_inside_the_safe_zone(fmt: str) -> None:
    comp = Compositor().compose(_request(fmt))
    safe = safe_box(FORMATS[fmt])
    pad = 20  # text boxes include a small padding around the ink
    for box in [a.box for a in comp.text] + [comp.product_box]:
        assert box is not None
        x0, y0, x1, y1 = box
        assert x0 >= safe.x0 - pad and y0 >= safe.y0 - pad, (fmt, box, safe)
        assert x1 <= safe.x1 + pad and y1 <= safe.y1 + pad, (fmt, box, safe)
    if fmt == "1080x1920":  # Meta's story zone: 14% top (269 px) and 20% bottom (384 px) free
        assert min(a.box[1] for a in comp.text) >= 0.14 * 1920 - pad
        assert max(b[3] for b in [comp.product_box] + [a.box for a in comp.text]) <= 0.8 * 1920 + pad


def _subject_box(comp, request) -> tuple[float, float]:
    """Where the orange subject ended up in the ad (its centre), from the ad's own pixels."""
    rgb = np.asarray(comp.image).astype(int)
    orange = (abs(rgb[..., 0] - 225) < 30) & (abs(rgb[..., 1] - 120) < 30) & (rgb[..., 2] < 80)
    ys, xs = np.nonzero(orange)
    return float(xs.mean()), float(ys.mean())


@pytest.mark.parametrize("fmt", ["1080x1920", "1200x628", "1080x1080"])
@pytest.mark.parametrize("where", [0.2, 0.8])
def test_crop_keeps_the_subject_and_the_product_avoids_it(fmt: str, where: float) -> None:
    seed = seed_photo(size=(640, 360), subject=(where, 0.5))
    request = _request(fmt, seed=seed)
    comp = Compositor().compose(request)
    x, y = _subject_box(comp, request)
    width, height = FORMATS[fmt].width, FORMATS[fmt].height
    assert 0.1 * width < x < 0.9 * width and 0.1 * height < y < 0.9 * height  # subject kept
    px0, py0, px1, py1 = comp.product_box
    assert not (px0 <= x <= px1 and py0 <= y <= py1)  # the product does not sit on it


def test_product_goes_to_the_side_away_from_the_subject() -> None:
    """Mirror the subject and the product mirrors with it (square format, wide seed)."""
    sides = {}
    for where in (0.3, 0.7):
        comp = Compositor().compose(_request(seed=seed_photo(size=(360, 360), subject=(where, 0.6))))
        centre = (comp.product_box[0] + comp.product_box[2]) / 2
        sides[where] = "left" if centre < 540 else "right"
    assert sides == {0.3: "right", 0.7: "left"}


def test_cutout_removes_background_and_cast_shadow_but_keeps_the_white_label() -> None:
    product = cut_out(Image.open(io.BytesIO(pack_shot())))
    assert product.cut
    alpha = np.asarray(product.image.getchannel("A"))
    rgb = np.asarray(product.image.convert("RGB")).astype(int)
    h, w = alpha.shape
    assert 0.55 < w / h < 0.7  # cropped to the pack (0.4 x 0.73 of the shot), shadow gone
    label = (rgb.min(axis=-1) > 240) & (alpha == 255)
    assert label.sum() > 0.05 * alpha.size  # the white label inside stays opaque
    assert alpha[h // 2, w // 2] == 255 and alpha[0, 0] == 0
    assert product.accent[0] > 150 and product.accent[1] < 80  # the pack's red


def test_cutout_keeps_a_lifestyle_photo_whole_as_a_card() -> None:
    photo = Image.open(io.BytesIO(seed_photo()))
    product = cut_out(photo)
    assert not product.cut
    assert product.image.size == photo.size  # whole image, only the corners rounded
    assert np.asarray(product.image.getchannel("A"))[product.image.height // 2].min() == 255


def test_default_headline_and_cta() -> None:
    assert default_headline("dog owners who love outdoor activities") == (
        "For dog owners who love outdoor activities"
    )
    assert default_headline("for cat people.") == "For cat people"
    assert len(default_headline("word " * 40)) <= 60
    comp = Compositor().compose(_request())
    assert len(comp.text) == 2


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"headline": "Café au lait"}, "no glyph for 'é'"),
        ({"headline": "x" * 91}, "at most 90"),
        ({"cta": "Buy\x07now"}, "control character"),
        ({"cta": "a" * 25}, "at most 24"),
        ({"headline": "Supercalifragilisticexpialidocious-extraordinarily-long-word"}, "do not fit"),
    ],
)
def test_text_the_ad_cannot_show_is_refused(kw: dict, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        Compositor().generate(_request(**kw))


def test_ad_font_setting_draws_other_scripts(tmp_path: Path) -> None:
    matplotlib = pytest.importorskip("matplotlib")
    font = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
    if not font.is_file():
        pytest.skip("DejaVuSans.ttf not found")
    png = Compositor(font_path=str(font)).generate(_request(headline="Café au lait, Grüße"))
    assert png.startswith(b"\x89PNG")


def test_non_image_inputs_are_refused_naming_which() -> None:
    with pytest.raises(InvalidInput, match="seed image"):
        Compositor().generate(_request(seed=b"%PDF-1.7"))
    with pytest.raises(InvalidInput, match="brand image"):
        Compositor().generate(_request(brand=b"GIF89a truncated"))


def test_without_brand_there_is_no_product() -> None:
    comp = Compositor().compose(_request(brand=None))
    assert comp.product_box is None and len(comp.text) == 2


def test_luminance_matches_wcag_reference_values() -> None:
    """WCAG's own examples: white 1.0, black 0.0, #777 on white 4.48:1."""
    lum = relative_luminance(np.array([[255, 255, 255], [0, 0, 0], [119, 119, 119]], np.uint8))
    assert lum[0] == pytest.approx(1.0) and lum[1] == 0.0
    assert (1.05) / (lum[2] + 0.05) == pytest.approx(4.48, abs=0.01)
