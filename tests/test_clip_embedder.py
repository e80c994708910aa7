"""The clip embedder's real loading code, on a tiny config: no machine here reaches the hub.

The tiny model is a real open_clip ViT (width 64, 2 layers, 32-pixel images) built with
``pretrained=None`` from a seeded random initialisation; its state dict saved to a file
then goes back in through the local-checkpoint route, and through a Hugging Face cache
laid out on disk, exactly as real weights would.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from adseed.config import resolve_settings
from adseed.embed.base import build_embedder
from adseed.errors import BackendError, ConfigError, RejectedFile

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("open_clip") is None,
    reason="open_clip is not installed: pip install 'adseed[clip]'",
)

TINY = "adseed-tiny-clip"
TINY_CONFIG = {
    "embed_dim": 32,
    "vision_cfg": {"image_size": 32, "layers": 2, "width": 64, "patch_size": 8, "head_width": 32},
    "text_cfg": {"context_length": 16, "vocab_size": 49408, "width": 64, "heads": 2, "layers": 2},
}
PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy")


def encode(image: Image.Image, fmt: str = "PNG", **save_args: object) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format=fmt, **save_args)
    return buf.getvalue()


def noise(size: tuple[int, int], seed: int = 0, mode: str = "RGB") -> Image.Image:
    channels = len(mode) if mode in ("RGB", "RGBA", "CMYK") else 1
    shape = (size[1], size[0], channels) if channels > 1 else (size[1], size[0])
    pixels = np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)
    return Image.fromarray(pixels, mode)


@pytest.fixture(scope="module")
def open_clip(tmp_path_factory: pytest.TempPathFactory):
    from adseed.embed.open_clip_compat import import_open_clip

    module = import_open_clip()
    config = tmp_path_factory.mktemp("configs") / f"{TINY}.json"
    config.write_text(json.dumps(TINY_CONFIG))
    module.add_model_config(config)  # open_clip's own registry, as for any custom model
    return module


@pytest.fixture(scope="module")
def tiny(open_clip):
    from adseed.embed.clip import ClipEmbedder

    return ClipEmbedder(TINY, None, batch_size=2)


@pytest.fixture(scope="module")
def checkpoint(tiny, tmp_path_factory: pytest.TempPathFactory) -> Path:
    import torch

    path = tmp_path_factory.mktemp("weights") / "open_clip_pytorch_model.bin"
    torch.save(tiny.model.state_dict(), path)
    return path


@pytest.fixture(scope="module")
def images() -> list[bytes]:
    return [
        encode(noise((64, 48), 1)),
        encode(noise((20, 90), 2), "JPEG", quality=90),
        encode(noise((300, 300), 3)),
    ]


TEXTS = ["a dog running on a beach", "a cat asleep on a sofa", ""]


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """The hub at a name that never resolves (RFC 2606), whatever this machine can reach."""
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "ENDPOINT", "https://hub.invalid")
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)


# --- weights -------------------------------------------------------------------------------


def test_random_init_is_seeded_so_its_model_id_names_its_weights(tiny, images):
    from adseed.embed.clip import ClipEmbedder

    again = ClipEmbedder(TINY, None)
    assert tiny.model_id == again.model_id == f"clip:{TINY}:random-init-seed0"
    assert tiny.dim == 32
    np.testing.assert_array_equal(tiny.embed_images(images), again.embed_images(images))


def test_local_checkpoint_loads_the_same_weights(tiny, checkpoint, images):
    from adseed.embed.clip import ClipEmbedder

    loaded = ClipEmbedder(TINY, str(checkpoint))
    digest = hashlib.sha256(checkpoint.read_bytes()).hexdigest()[:12]
    assert loaded.model_id == f"clip:{TINY}:sha256-{digest}"
    np.testing.assert_array_equal(loaded.embed_images(images), tiny.embed_images(images))
    np.testing.assert_array_equal(loaded.embed_texts(TEXTS), tiny.embed_texts(TEXTS))


def test_model_id_follows_the_file_content_not_its_location(checkpoint, tmp_path):
    from adseed.embed.clip import ClipEmbedder

    moved = tmp_path / "elsewhere.pt"
    shutil.copy(checkpoint, moved)
    assert ClipEmbedder(TINY, moved).model_id == ClipEmbedder(TINY, checkpoint).model_id


def test_safetensors_checkpoint(tiny, tmp_path, images):
    from safetensors.torch import save_file

    from adseed.embed.clip import ClipEmbedder

    path = tmp_path / "open_clip_model.safetensors"
    save_file({k: v.contiguous() for k, v in tiny.model.state_dict().items()}, str(path))
    loaded = ClipEmbedder(TINY, path)
    np.testing.assert_array_equal(loaded.embed_images(images), tiny.embed_images(images))


def test_checkpoint_that_does_not_fit_is_a_config_error(tiny, tmp_path):
    import torch

    from adseed.embed.clip import ClipEmbedder

    garbage = tmp_path / "garbage.bin"
    garbage.write_bytes(b"not a checkpoint at all")
    with pytest.raises(ConfigError, match="does not fit"):
        ClipEmbedder(TINY, garbage)
    partial = tmp_path / "partial.bin"
    state = tiny.model.state_dict()
    torch.save({k: v for k, v in state.items() if not k.startswith("visual.")}, partial)
    with pytest.raises(ConfigError, match="does not fit"):
        ClipEmbedder(TINY, partial)


@pytest.mark.parametrize("value", ["no-such-tag", "/no/such/dir/open_clip_pytorch_model.bin"])
def test_pretrained_that_is_neither_tag_nor_file(open_clip, value):
    from adseed.embed.clip import ClipEmbedder

    with pytest.raises(ConfigError, match="neither a pretrained tag"):
        ClipEmbedder(TINY, value)


def test_unknown_model_and_empty_pretrained_are_config_errors(open_clip, tmp_path):
    from adseed.embed.clip import ClipEmbedder

    with pytest.raises(ConfigError, match="unknown open_clip model"):
        ClipEmbedder("ViT-Nonexistent-99", None)
    settings = resolve_settings({"home": tmp_path, "clip_model": TINY, "clip_pretrained": " "}, {})
    with pytest.raises(ConfigError, match="clip_pretrained is empty"):
        ClipEmbedder.from_settings(settings)


def test_hub_tag_without_network_fails_fast_and_says_how_to_use_a_local_file(
    open_clip, offline, tmp_path
):
    from adseed.embed.clip import ClipEmbedder

    started = time.monotonic()
    with pytest.raises(BackendError) as caught:
        ClipEmbedder("ViT-B-32", "laion2b_s34b_b79k", cache_dir=tmp_path)
    assert time.monotonic() - started < 10  # not huggingface_hub's ~45 s of retries
    message = str(caught.value)
    assert "huggingface.co/laion/CLIP-ViT-B-32-laion2B-s34B-b79K" in message
    assert "open_clip_pytorch_model.bin" in message
    assert "clip_pretrained" in message and "ADSEED_CLIP_PRETRAINED" in message


def test_hub_tag_loads_from_the_local_hub_cache_without_network(
    open_clip, tiny, checkpoint, offline, tmp_path, monkeypatch, images
):
    """A tag whose file is already in the Hugging Face cache needs no network at all."""
    from adseed.embed.clip import ClipEmbedder

    tag_cfg = open_clip.pretrained._pcfg(
        hf_hub="adseed/tiny-clip/", mean=(0.5,) * 3, std=(0.5,) * 3
    )
    monkeypatch.setitem(open_clip.pretrained._PRETRAINED, TINY, {"tiny_test": tag_cfg})
    repo = tmp_path / "models--adseed--tiny-clip"
    commit = "0" * 40
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    (repo / "snapshots" / commit).mkdir(parents=True)
    shutil.copy(checkpoint, repo / "snapshots" / commit / "open_clip_pytorch_model.bin")

    cached = ClipEmbedder(TINY, "Tiny-Test", cache_dir=tmp_path)
    assert cached.model_id == f"clip:{TINY}:tiny_test"
    np.testing.assert_array_equal(cached.embed_texts(TEXTS), tiny.embed_texts(TEXTS))
    assert cached._preprocess.mean.tolist() == [0.5] * 3  # the tag's preprocessing, kept
    with pytest.raises(BackendError, match="could not fetch"):
        ClipEmbedder(TINY, "tiny_test", cache_dir=tmp_path / "empty-cache")


# --- settings, registry, import --------------------------------------------------------------


def test_from_settings_and_the_entry_point(open_clip, checkpoint, tmp_path):
    import torch

    from adseed.embed.clip import ClipEmbedder

    flags = {"home": tmp_path, "clip_model": TINY, "clip_pretrained": str(checkpoint)}
    threads = torch.get_num_threads()
    settings = resolve_settings({**flags, "batch_size": 3, "threads": 1}, env={})
    try:
        embedder = build_embedder("clip", settings)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(threads)
    assert isinstance(embedder, ClipEmbedder)
    assert embedder._batch_size == 3
    assert embedder.model_id == ClipEmbedder(TINY, checkpoint).model_id


def test_device_must_exist(open_clip):
    import torch

    from adseed.embed.clip import ClipEmbedder

    with pytest.raises(ConfigError, match="not a torch device"):
        ClipEmbedder(TINY, None, device="toaster")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="no usable CUDA"):
            ClipEmbedder(TINY, None, device="cuda")


def test_import_leaves_no_stand_in_behind(open_clip):
    torchvision = sys.modules.get("torchvision")
    assert torchvision is None or "stand-in" not in (torchvision.__doc__ or "")
    assert "timm" not in sys.modules or sys.modules["timm"] is not None


def test_missing_open_clip_is_a_config_error_naming_the_extra(monkeypatch):
    from adseed.embed.open_clip_compat import import_open_clip

    monkeypatch.setitem(sys.modules, "open_clip", None)  # what an uninstalled package looks like
    with pytest.raises(ConfigError, match=r"pip install 'adseed\[clip\]'"):
        import_open_clip()


def test_importing_the_module_does_not_import_open_clip():
    code = "import sys, adseed.embed.clip; print('open_clip' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# --- images ----------------------------------------------------------------------------------


def test_bad_bytes_are_rejected_naming_the_item(tiny, images):
    with pytest.raises(RejectedFile, match="image 1"):
        tiny.embed_images([images[0], b"definitely not an image"])
    truncated = encode(noise((64, 64)), "JPEG")[:300]
    with pytest.raises(RejectedFile, match="image 0"):
        tiny.embed_images([truncated])


def test_images_over_max_pixels_are_rejected(open_clip):
    from adseed.embed.clip import ClipEmbedder

    small = ClipEmbedder(TINY, None, max_pixels=100)
    with pytest.raises(RejectedFile, match="max_pixels"):
        small.embed_images([encode(noise((20, 20)))])


def test_every_image_mode_becomes_rgb(tiny):
    sixteen_bit = Image.fromarray(np.arange(1200, dtype=np.uint16).reshape(30, 40) * 50)
    files = [
        encode(noise((40, 30), mode="L")),
        encode(noise((40, 30), mode="RGBA")),
        encode(noise((40, 30)).convert("P", palette=Image.Palette.ADAPTIVE)),
        encode(noise((40, 30), mode="CMYK"), "JPEG"),
        encode(sixteen_bit),
        encode(noise((40, 30)), "WEBP", lossless=True),
    ]
    vectors = tiny.embed_images(files)
    assert vectors.shape == (len(files), tiny.dim)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_exif_orientation_is_applied(tiny):
    upright = noise((48, 32), 7)
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    stored = upright.transpose(Image.Transpose.ROTATE_90)
    with_exif = encode(stored, exif=exif.tobytes())
    np.testing.assert_array_equal(
        tiny.embed_images([with_exif]), tiny.embed_images([encode(upright)])
    )


def test_long_texts_are_truncated_not_refused(tiny):
    vectors = tiny.embed_texts(["dog " * 500, "dog"])
    assert vectors.shape == (2, tiny.dim)


# --- preprocessing ---------------------------------------------------------------------------

OPENAI = {"mean": (0.48145466, 0.4578275, 0.40821073), "std": (0.26862954, 0.26130258, 0.27577711)}


@pytest.mark.parametrize(
    ("mode", "target", "source", "resized"),
    [
        ("shortest", 224, (640, 480), (298, 224)),  # int(224 * 640 / 480)
        ("shortest", 224, (480, 641), (224, 299)),
        ("shortest", 224, (224, 224), (224, 224)),
        ("shortest", (224, 160), (300, 300), (224, 224)),  # keep ratio, cover the target
        ("longest", 224, (640, 480), (224, 168)),  # fit inside, then pad
        ("squash", 224, (640, 480), (224, 224)),
    ],
)
def test_resize_arithmetic_matches_open_clip(mode, target, source, resized):
    from adseed.embed.clip import _Preprocess

    cfg = {**OPENAI, "size": target, "resize_mode": mode, "interpolation": "bicubic"}
    preprocess = _Preprocess.from_cfg(cfg)
    assert preprocess._resize(Image.new("RGB", source)).size == resized
    height, width = (target, target) if isinstance(target, int) else target
    assert preprocess(Image.new("RGB", source)).shape == (3, height, width)


def test_scaling_normalisation_and_padding_fill():
    from adseed.embed.clip import _Preprocess

    cfg = {**OPENAI, "size": 8, "resize_mode": "longest", "fill_color": 255}
    pixels = _Preprocess.from_cfg(cfg)(Image.new("RGB", (16, 4), (0, 128, 255)))
    mean, std = np.float32(OPENAI["mean"]), np.float32(OPENAI["std"])
    inside = (np.float32([0, 128, 255]) / np.float32(255) - mean) / std
    padding = (np.float32(1.0) - mean) / std
    assert pixels.dtype == np.float32
    np.testing.assert_array_equal(pixels[:, 4, 0], inside)  # the image band in the middle
    np.testing.assert_array_equal(pixels[:, 0, 0], padding)  # the padded rows on top


def _torchvision_usable() -> bool:
    from adseed.embed.open_clip_compat import _torchvision_usable

    return _torchvision_usable()


@pytest.mark.skipif(
    not _torchvision_usable(), reason="needs a torchvision built for this torch to compare with"
)
@pytest.mark.parametrize("mode", ["shortest", "longest", "squash"])
@pytest.mark.parametrize("size", [224, (224, 160), (160, 224)])
def test_preprocessing_equals_open_clips_torchvision_transform(open_clip, mode, size):
    from adseed.embed.clip import _Preprocess

    cfg = {**OPENAI, "size": size, "resize_mode": mode, "interpolation": "bicubic"}
    reference = open_clip.transform.image_transform_v2(
        open_clip.transform.PreprocessCfg(**cfg), is_train=False
    )
    for seed, source in enumerate([(640, 480), (333, 1000), (100, 50), (7, 300), (225, 224)]):
        image = noise(source, seed)
        np.testing.assert_array_equal(_Preprocess.from_cfg(cfg)(image), reference(image).numpy())
