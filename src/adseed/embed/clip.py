"""CLIP embeddings with ``open_clip``: real pretrained weights from the model hub or a local file.

Why images are preprocessed here and not by open_clip: open_clip's transforms are
torchvision classes, and the only torchvision wheels on PyPI for torch 2.13 are CUDA
builds whose C extension cannot load next to the CPU torch adseed pins; importing such
a torchvision fails outright (``operator torchvision::nms does not exist``,
pytorch/vision#9077) and breaks ``transformers`` too. So torchvision stays uninstalled,
open_clip is imported behind a stand-in for the few torchvision names it imports at
module level (removed again right after), and :class:`_Preprocess` redoes open_clip's
eval transform (resize, centre crop, scale, normalise) with PIL and numpy, step by step,
from the preprocessing config open_clip attaches to the model. Where a working
torchvision exists it is used for the import, but never for preprocessing, so one
``model_id`` always means one pipeline.
"""

from __future__ import annotations

import io
import os
import re
import socket
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image, ImageOps

from adseed.embed.base import file_digest, normalize
from adseed.embed.open_clip_compat import import_open_clip
from adseed.errors import BackendError, ConfigError, RejectedFile

if TYPE_CHECKING:
    import torch

    from adseed.config import Settings

_RANDOM_INIT_SEED = 0


# --- preprocessing -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Preprocess:
    """open_clip's eval transform (``image_transform(is_train=False)``) in PIL and numpy.

    Same resize arithmetic (``int`` for the short-edge resize, ``round`` for the
    keep-ratio one), same centre-crop offsets and padding, same float32 scaling and
    normalisation, so pretrained weights see the inputs they were trained on.
    """

    height: int
    width: int
    mean: np.ndarray
    std: np.ndarray
    resample: Image.Resampling
    resize_mode: str
    fill: int

    @classmethod
    def from_cfg(cls, cfg: dict[str, Any]) -> _Preprocess:
        size = cfg.get("size", 224)
        height, width = (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))
        bilinear = cfg.get("interpolation") == "bilinear"  # 'random' means bicubic at eval
        return cls(
            height=height,
            width=width,
            mean=np.broadcast_to(np.asarray(cfg["mean"], np.float32), (3,)),
            std=np.broadcast_to(np.asarray(cfg["std"], np.float32), (3,)),
            resample=Image.Resampling.BILINEAR if bilinear else Image.Resampling.BICUBIC,
            resize_mode=cfg.get("resize_mode") or "shortest",
            fill=int(cfg.get("fill_color") or 0),
        )

    def __call__(self, image: Image.Image) -> np.ndarray:
        """RGB PIL image → (3, height, width) float32 array, normalised."""
        image = self._resize(image)
        if self.resize_mode != "squash":
            image = _center_crop(image, self.height, self.width, self.fill)
        pixels = np.asarray(image, dtype=np.float32) / np.float32(255.0)
        return ((pixels - self.mean) / self.std).transpose(2, 0, 1)

    def _resize(self, image: Image.Image) -> Image.Image:
        w, h = image.size
        if self.resize_mode == "squash":
            return image.resize((self.width, self.height), self.resample)
        if self.resize_mode == "shortest" and self.height == self.width:
            short, long = (w, h) if w <= h else (h, w)
            new_long = int(self.height * long / short)
            size = (self.height, new_long) if w <= h else (new_long, self.height)
            return image if size == (w, h) else image.resize(size, self.resample)
        # open_clip's ResizeKeepRatio: 'longest' fits inside; non-square 'shortest' covers
        # the target, and uses bicubic whatever the config says.
        ratios = (h / self.height, w / self.width)
        ratio = max(ratios) if self.resize_mode == "longest" else min(ratios)
        resample = self.resample if self.resize_mode == "longest" else Image.Resampling.BICUBIC
        size = (round(w / ratio), round(h / ratio))
        return image if size == (w, h) else image.resize(size, resample)


def _center_crop(image: Image.Image, height: int, width: int, fill: int) -> Image.Image:
    """torchvision's centre crop: pad with ``fill`` where too small, round the offsets."""
    w, h = image.size
    if width > w or height > h:
        canvas = Image.new("RGB", (max(w, width), max(h, height)), (fill, fill, fill))
        canvas.paste(image, (max(width - w, 0) // 2, max(height - h, 0) // 2))
        image, (w, h) = canvas, canvas.size
    top, left = int(round((h - height) / 2.0)), int(round((w - width) / 2.0))
    return image.crop((left, top, left + width, top + height))


def _decode(data: bytes, index: int, max_pixels: int) -> Image.Image:
    """Encoded bytes → upright RGB image, or RejectedFile naming the item."""
    try:
        image = Image.open(io.BytesIO(data))
        if image.width * image.height <= max_pixels:  # checked before decoding the pixels
            image.load()
            # Phones store rotation in EXIF; the photo a person sees is the upright one.
            return ImageOps.exif_transpose(image).convert("RGB")
    except Exception as exc:  # PIL raises UnidentifiedImageError, OSError, ValueError …
        raise RejectedFile(f"image {index}: not a decodable image ({exc})") from exc
    raise RejectedFile(f"image {index}: {image.width}x{image.height} over max_pixels={max_pixels}")


# --- weights -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Weights:
    """Where the weights come from: what open_clip receives, and how model_id names them."""

    pretrained: str | None
    label: str
    is_tag: bool = False
    hub_repo: str = ""  # 'org/name' for tags on the Hugging Face hub, and its file names
    hub_files: tuple[str, ...] = ()
    preprocess: dict[str, Any] | None = None  # the tag's preprocessing, for a cached file




def _tag_weights(open_clip: Any, tag: str, cfg: dict[str, Any]) -> _Weights:
    """Mirror open_clip's hub lookup: 'org/name/[file]', a .safetensors twin tried first."""
    names = open_clip.constants
    repo, filename = os.path.split(cfg.get("hf_hub") or "")
    filename = filename or names.HF_WEIGHTS_NAME
    twin = re.sub(r"\.(bin|pth)$", ".safetensors", filename)
    twin = names.HF_SAFE_WEIGHTS_NAME if filename == names.HF_WEIGHTS_NAME else twin
    files = tuple(dict.fromkeys((twin, filename))) if repo else ()
    keys = ("mean", "std", "interpolation", "resize_mode")
    preprocess = {k: cfg[k] for k in keys if cfg.get(k) is not None}
    return _Weights(tag, tag, True, repo, files, preprocess)


def _resolve_weights(open_clip: Any, model_name: str, pretrained: str | Path | None) -> _Weights:
    """A pretrained tag (as open_clip resolves it: tags first) or a local checkpoint file."""
    if pretrained is None:
        return _Weights(None, f"random-init-seed{_RANDOM_INIT_SEED}")
    value = str(pretrained).strip()
    if not value:
        raise ConfigError(
            "clip_pretrained is empty: give a pretrained tag (e.g. laion2b_s34b_b79k) "
            "or the path of a local checkpoint file"
        )
    cfg = open_clip.get_pretrained_cfg(model_name, value)
    if cfg:  # named as open_clip normalises tags, so spellings of one tag share a model_id
        return _tag_weights(open_clip, value.lower().replace("-", "_"), cfg)
    path = Path(value).expanduser()
    if path.is_file():
        return _Weights(str(path.resolve()), f"sha256-{file_digest(path, 12)}")
    tags = ", ".join(open_clip.list_pretrained_tags_by_model(model_name)) or "none"
    raise ConfigError(
        f"clip_pretrained {value!r} is neither a pretrained tag of {model_name} "
        f"(known: {tags}) nor an existing checkpoint file"
    )


def _cached_hub_file(weights: _Weights, cache: str | None) -> str | None:
    """The tag's checkpoint if the Hugging Face cache has it: loads then need no network."""
    if not weights.hub_repo:
        return None
    from huggingface_hub import try_to_load_from_cache

    for filename in weights.hub_files:
        found = try_to_load_from_cache(weights.hub_repo, filename, cache_dir=cache)
        if isinstance(found, str):
            return found
    return None


def _hub_unreachable() -> str | None:
    """Why the hub cannot be reached, or None; without it huggingface_hub retries for ~45 s."""
    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE:
        return "HF_HUB_OFFLINE is set"
    if urllib.request.getproxies():
        return None  # only the proxy can tell; let huggingface_hub try
    host = urllib.parse.urlparse(constants.ENDPOINT).hostname or ""
    try:
        socket.getaddrinfo(host, 443)
    except OSError as exc:
        return f"cannot resolve {host}: {exc}"
    return None


def _fetch_error(model_name: str, weights: _Weights, reason: object) -> BackendError:
    where = f"https://huggingface.co/{weights.hub_repo}" if weights.hub_repo else "the hub"
    file = weights.hub_files[-1] if weights.hub_files else "the checkpoint"
    return BackendError(
        f"could not fetch the {model_name} weights {weights.pretrained!r} ({reason}). "
        f"Without network access: download {file} from {where} on a connected machine, "
        "copy it here and set clip_pretrained (ADSEED_CLIP_PRETRAINED) to its path"
    )


def _create_model(
    open_clip: Any, model_name: str, weights: _Weights, device: Any, cache: str | None
) -> Any:
    """open_clip.create_model with adseed's errors; random init is seeded so it is repeatable."""
    import torch

    if weights.pretrained is None:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(_RANDOM_INIT_SEED)
            return open_clip.create_model(model_name, pretrained=None, device=device)
    checkpoint, preprocess = weights.pretrained, None
    if weights.hub_repo:
        cached = _cached_hub_file(weights, cache)
        if cached:
            checkpoint, preprocess = cached, weights.preprocess
        elif reason := _hub_unreachable():
            raise _fetch_error(model_name, weights, reason)
    try:
        return open_clip.create_model(
            model_name,
            pretrained=checkpoint,
            device=device,
            cache_dir=cache,
            force_preprocess_cfg=preprocess,
        )
    except Exception as exc:
        if weights.is_tag and checkpoint == weights.pretrained:  # open_clip was downloading
            raise _fetch_error(model_name, weights, exc) from exc
        raise ConfigError(f"checkpoint {checkpoint} does not fit {model_name}: {exc}") from exc


def _resolve_device(torch: Any, device: str) -> torch.device:
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ConfigError(f"device {device!r} is not a torch device: {exc}") from exc
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {device!r} requested but this torch has no usable CUDA")
    return resolved


# --- the embedder --------------------------------------------------------------------------


class ClipEmbedder:
    """Images and texts into CLIP's joint space (ViT-B-32, LAION-2B weights by default).

    ``model_id`` is ``clip:<model>:<tag>`` for hub weights and
    ``clip:<model>:sha256-<12 hex>`` for a local file, so the same weights get the same
    id wherever the file lives. ``pretrained=None`` (constructor only, for tests) is a
    seeded random initialisation, ``clip:<model>:random-init-seed0``.
    """

    def __init__(
        self,
        model_name: str = "ViT-B-32",
        pretrained: str | Path | None = "laion2b_s34b_b79k",
        *,
        device: str = "cpu",
        batch_size: int = 32,
        threads: int = 0,
        max_pixels: int = 40_000_000,
        cache_dir: str | Path | None = None,
    ) -> None:
        open_clip = import_open_clip()
        import torch

        if model_name not in open_clip.list_models():
            raise ConfigError(
                f"unknown open_clip model {model_name!r}; e.g. ViT-B-32, ViT-B-16, ViT-L-14 "
                "(open_clip.list_models() lists all, add_model_config registers more)"
            )
        if threads > 0:
            torch.set_num_threads(threads)
        self._device = _resolve_device(torch, device)
        weights = _resolve_weights(open_clip, model_name, pretrained)
        cache = str(cache_dir) if cache_dir is not None else None
        self.model = _create_model(open_clip, model_name, weights, self._device, cache).eval()
        self._tokenizer = open_clip.get_tokenizer(model_name)
        self._preprocess = _Preprocess.from_cfg(open_clip.get_model_preprocess_cfg(self.model))
        self._batch_size = max(1, int(batch_size))
        self._max_pixels = int(max_pixels)
        self.dim = int(open_clip.get_model_config(model_name)["embed_dim"])
        self.model_id = f"clip:{model_name}:{weights.label}"

    @classmethod
    def from_settings(cls, settings: Settings) -> ClipEmbedder:
        return cls(
            settings.clip_model,
            settings.clip_pretrained,
            device=settings.device,
            batch_size=settings.batch_size,
            threads=settings.threads,
            max_pixels=settings.max_pixels,
        )

    def embed_images(self, images: Sequence[bytes]) -> np.ndarray:
        """Decoded and preprocessed one batch at a time, so memory stays flat for long lists."""

        def encode(start: int, chunk: Sequence[bytes]) -> torch.Tensor:
            import torch

            pixels = [
                self._preprocess(_decode(data, start + i, self._max_pixels))
                for i, data in enumerate(chunk)
            ]
            batch = torch.from_numpy(np.stack(pixels)).to(self._device)
            return self.model.encode_image(batch)

        return self._run(images, encode)

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        """Tokenised with the model's own tokenizer; over-long texts are truncated by it."""

        def encode(start: int, chunk: Sequence[str]) -> torch.Tensor:
            tokens = self._tokenizer([str(t) for t in chunk]).to(self._device)
            return self.model.encode_text(tokens)

        return self._run(texts, encode)

    def _run(self, items: Sequence[Any], encode: Callable[[int, Sequence[Any]], Any]) -> np.ndarray:
        import torch

        rows = [np.zeros((0, self.dim), dtype=np.float32)]
        with torch.inference_mode():
            for start in range(0, len(items), self._batch_size):
                features = encode(start, items[start : start + self._batch_size])
                rows.append(features.float().cpu().numpy())
        return normalize(np.concatenate(rows))
