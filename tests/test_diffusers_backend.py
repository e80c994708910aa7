"""The diffusers backend on a tiny randomly initialised FluxKontextPipeline (no downloads).

The pipeline is the real FluxKontextPipeline class with tiny components, saved with
``save_pretrained`` and loaded back by the backend through ``from_pretrained`` with
``local_files_only=True``, so the loading path real weights take is the one tested.
"""

from __future__ import annotations

import importlib.util

import pytest

from adseed.config import resolve_settings
from adseed.errors import ConfigError, InvalidInput
from adseed.generate.base import FORMATS, AdRequest, parse_format
from adseed.generate.local_diffusers import DiffusersGenerator, generation_size, side_by_side

from stubs.images import brand_png, png_size, seed_jpeg
from stubs.tiny_pipelines import save_tiny_kontext, save_tiny_text_to_image

SEED, BRAND = seed_jpeg(), brand_png()


@pytest.fixture(scope="session")
def tiny_kontext(tmp_path_factory):
    pytest.importorskip("diffusers")
    return save_tiny_kontext(tmp_path_factory.mktemp("tiny-kontext"))


def make(tmp_path, model, **settings) -> DiffusersGenerator:
    values = {"home": tmp_path / "ws", "diffusers_model": str(model), "diffusers_steps": 2,
              "diffusers_resolution": 32, **settings}  # fmt: skip
    return DiffusersGenerator.from_settings(resolve_settings(values, env={}))


def ad(fmt="1080x1080", seed=SEED, brand=BRAND) -> AdRequest:
    return AdRequest(seed, brand, "dog owners who love outdoor activities", parse_format(fmt))


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_exact_size_png_for_every_format(tmp_path, tiny_kontext, fmt) -> None:
    png = make(tmp_path, tiny_kontext).generate(ad(fmt))
    assert png_size(png) == ("PNG", (FORMATS[fmt].width, FORMATS[fmt].height))


def test_same_request_same_bytes_and_inputs_matter(tmp_path, tiny_kontext) -> None:
    gen = make(tmp_path, tiny_kontext)
    first = gen.generate(ad())
    assert gen.generate(ad()) == first
    assert gen.generate(ad(seed=seed_jpeg(hue=120))) != first  # the seed image conditions it
    assert gen.generate(ad(brand=None)) != first  # and so does the brand panel


def test_nothing_is_written(tmp_path, tiny_kontext) -> None:
    before = sorted(p for p in tiny_kontext.rglob("*"))
    make(tmp_path, tiny_kontext).generate(ad())
    assert sorted(p for p in tiny_kontext.rglob("*")) == before
    assert not (tmp_path / "ws").exists()


def test_unset_model_is_a_config_error(tmp_path) -> None:
    with pytest.raises(ConfigError, match="diffusers_model"):
        DiffusersGenerator.from_settings(resolve_settings({"home": tmp_path}, env={}))


@pytest.mark.parametrize("model", ["black-forest-labs/FLUX.1-Kontext-dev", "/nonexistent/dir"])
def test_hub_ids_and_missing_folders_are_refused_not_downloaded(tmp_path, model) -> None:
    with pytest.raises(ConfigError, match="never downloads"):
        make(tmp_path, model)


def test_folder_without_model_index_is_refused(tmp_path) -> None:
    (tmp_path / "weights").mkdir()
    with pytest.raises(ConfigError, match="model_index.json"):
        make(tmp_path, tmp_path / "weights")


def test_text_to_image_pipeline_is_refused(tmp_path) -> None:
    pytest.importorskip("diffusers")
    folder = save_tiny_text_to_image(tmp_path / "flux")
    with pytest.raises(ConfigError, match="does not take an input image"):
        make(tmp_path, folder).generate(ad())


def test_bad_seed_is_invalid_input(tmp_path, tiny_kontext) -> None:
    with pytest.raises(InvalidInput, match="seed image"):
        make(tmp_path, tiny_kontext).generate(ad(seed=b"\x89PNG\r\n\x1a\n truncated"))


def test_composite_and_generation_sizes() -> None:
    from PIL import Image

    composite = side_by_side(Image.new("RGB", (400, 300)), Image.new("RGB", (100, 200)), 64)
    assert composite.height >= 16
    assert abs(composite.width / composite.height - (400 / 300 + 100 / 200)) < 0.1
    assert abs(composite.width * composite.height - 64 * 64) / (64 * 64) < 0.1
    for fmt in FORMATS.values():
        w, h = generation_size(fmt, 1024)
        assert w % 16 == 0 and h % 16 == 0
        assert abs(w / h - fmt.width / fmt.height) < 0.05
        assert 0.9 < w * h / 1024**2 <= 1.0


def test_clip_shim_leaves_transformers_torchvision_check_truthful() -> None:
    """Importing open_clip behind the torchvision stand-in must not make transformers
    believe torchvision exists: diffusers' Kontext pipeline import would then fail."""
    if importlib.util.find_spec("open_clip") is None:
        pytest.skip("open_clip is not installed")
    from adseed.embed.open_clip_compat import _torchvision_usable, import_open_clip

    import_open_clip()
    from transformers.utils.import_utils import is_torchvision_available

    assert is_torchvision_available() == _torchvision_usable()
    from diffusers import FluxKontextPipeline

    assert FluxKontextPipeline.__name__ == "FluxKontextPipeline"
