"""``diffusers``: a local image-conditioned pipeline, FLUX.1 Kontext when its weights are here.

``diffusers_model`` names a *local folder* saved by ``save_pretrained`` (a
``model_index.json`` beside the component folders, e.g. a copy of
``FLUX.1-Kontext-dev`` fetched on a machine with network). It is loaded with
``local_files_only=True``: this backend never downloads, and a missing or incomplete
folder is a ConfigError before anything heavy is imported.

Any diffusers pipeline whose ``__call__`` takes an ``image`` works (Kontext, or an
img2img pipeline); arguments it does not take are simply not passed.

Seed + brand: Kontext edits *one* image, so the two are placed side by side (seed
left, brand right, same height) and the prompt asks for the product on the right to
be placed into the scene on the left. That is what the community multi-image Kontext
apps do with a concatenated input. The composite is sized to about
``diffusers_resolution``² pixels and passed with ``_auto_resize=False``, so the
conditioning size is ours, not the pipeline's preferred-resolution table. The output
is generated at the format's aspect ratio (about ``diffusers_resolution``² pixels, sides
multiples of 16) with a generator seeded from the request, then cover-fitted exactly.
"""

from __future__ import annotations

import inspect
import math
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PIL import Image

from adseed.errors import BackendError, ConfigError
from adseed.generate.base import AdFormat, AdRequest
from adseed.generate.hosted import build_edit_prompt, request_nonce
from adseed.generate.imaging import (
    cover_fit_image,
    decode_image_checked,
    encode_png_bytes,
    flatten_on_white,
)

if TYPE_CHECKING:
    from adseed.config import Settings

_LOADED: dict[tuple[str, str], Any] = {}  # (folder, device) → pipeline: weights load once
_LOCK = threading.Lock()


class DiffusersGenerator:
    """Runs a local diffusers pipeline on the seed/brand composite."""

    name = "diffusers"

    def __init__(
        self,
        model_dir: Path,
        *,
        device: str = "cpu",
        steps: int = 28,
        guidance_scale: float = 2.5,
        resolution: int = 1024,
    ) -> None:
        self.model_dir = _checked_model_dir(model_dir)
        self.device = device
        self.steps = steps
        self.guidance_scale = guidance_scale
        self.resolution = resolution

    @classmethod
    def from_settings(cls, settings: Settings) -> DiffusersGenerator:
        if not settings.diffusers_model.strip():
            raise ConfigError(
                "the diffusers backend needs local weights: set diffusers_model "
                "(ADSEED_DIFFUSERS_MODEL) to a folder saved with save_pretrained, "
                "e.g. a copy of FLUX.1-Kontext-dev; nothing is downloaded"
            )
        return cls(
            Path(settings.diffusers_model).expanduser(),
            device=settings.device,
            steps=settings.diffusers_steps,
            guidance_scale=settings.diffusers_guidance_scale,
            resolution=settings.diffusers_resolution,
        )

    def generate(self, request: AdRequest) -> bytes:
        seed = flatten_on_white(decode_image_checked(request.seed, "seed image"))
        brand = None
        if request.brand is not None:
            brand = flatten_on_white(decode_image_checked(request.brand, "brand image"))
        condition = side_by_side(seed, brand, self.resolution)
        width, height = generation_size(request.format, self.resolution)
        pipe = self._pipeline()
        kwargs = self._call_kwargs(pipe, request, condition, width, height)
        try:
            import torch

            with torch.inference_mode():
                image = pipe(**kwargs).images[0]
        except (RuntimeError, ValueError, TypeError) as exc:
            raise BackendError(f"the local diffusers pipeline failed: {exc}") from exc
        if not isinstance(image, Image.Image):
            raise BackendError("the local diffusers pipeline did not return a PIL image")
        return encode_png_bytes(cover_fit_image(image, request.format.width, request.format.height))

    def _call_kwargs(
        self, pipe: Any, request: AdRequest, condition: Image.Image, width: int, height: int
    ) -> dict[str, Any]:
        import torch

        prompt = build_edit_prompt(
            request, first="the scene on the left", second="the product on the right"
        )
        wanted = {
            "image": condition,
            "prompt": prompt,
            "height": height,
            "width": width,
            "max_area": width * height,
            "num_inference_steps": self.steps,
            "guidance_scale": self.guidance_scale,
            "generator": torch.Generator("cpu").manual_seed(request_nonce(request)),
            "output_type": "pil",
            "_auto_resize": False,
        }
        accepted = inspect.signature(pipe.__call__).parameters
        return {k: v for k, v in wanted.items() if k in accepted}

    def _pipeline(self) -> Any:
        key = (str(self.model_dir), self.device)
        with _LOCK:
            if key not in _LOADED:
                _LOADED[key] = _load(self.model_dir, self.device)
            return _LOADED[key]


def _checked_model_dir(model_dir: Path) -> Path:
    """A folder with ``model_index.json``; anything else (a hub id, a file) is refused."""
    if not model_dir.is_dir():
        raise ConfigError(
            f"diffusers_model {str(model_dir)!r} is not a local folder; this backend never "
            "downloads: fetch the weights elsewhere and point diffusers_model at the folder"
        )
    if not (model_dir / "model_index.json").is_file():
        raise ConfigError(
            f"diffusers_model {str(model_dir)!r} has no model_index.json: "
            "expected a pipeline folder written by save_pretrained"
        )
    return model_dir.resolve()


def _load(model_dir: Path, device: str) -> Any:
    import torch
    from diffusers import DiffusionPipeline

    # bfloat16 halves GPU memory (FLUX Kontext is 12B parameters); CPU stays in float32.
    options: dict[str, Any] = {"dtype": torch.bfloat16} if device.startswith("cuda") else {}
    try:
        pipe = DiffusionPipeline.from_pretrained(str(model_dir), local_files_only=True, **options)
    except (OSError, ValueError, KeyError, AttributeError, ImportError) as exc:
        raise ConfigError(f"cannot load the pipeline in {model_dir}: {exc}") from exc
    if "image" not in inspect.signature(pipe.__call__).parameters:
        raise ConfigError(
            f"{type(pipe).__name__} in {model_dir} does not take an input image; "
            "the diffusers backend needs an image-conditioned pipeline such as FluxKontextPipeline"
        )
    pipe.set_progress_bar_config(disable=True)  # library code never prints
    return pipe.to(device)


def generation_size(fmt: AdFormat, resolution: int) -> tuple[int, int]:
    """About ``resolution``² pixels at the format's aspect ratio, sides multiples of 16."""
    aspect = fmt.width / fmt.height
    width = max(16, int(math.sqrt(resolution * resolution * aspect)) // 16 * 16)
    height = max(16, int(math.sqrt(resolution * resolution / aspect)) // 16 * 16)
    return width, height


def side_by_side(seed: Image.Image, brand: Image.Image | None, resolution: int) -> Image.Image:
    """Seed on the left, brand on the right, same height, about ``resolution``² pixels."""
    panels = [seed] if brand is None else [seed, brand]
    widths = [p.width / p.height for p in panels]  # widths at height 1
    height = max(16, round(resolution / math.sqrt(sum(widths))))
    sized = [p.resize((max(1, round(w * height)), height), Image.Resampling.LANCZOS)
             for p, w in zip(panels, widths, strict=True)]  # fmt: skip
    canvas = Image.new("RGB", (sum(p.width for p in sized), height), (255, 255, 255))
    x = 0
    for panel in sized:
        canvas.paste(panel, (x, 0))
        x += panel.width
    return canvas
