"""Inputs for the generation tests: synthetic photos and pack-shots, a ready workspace.

Import the fixtures by their function names (``ready_fixture``, ``mlflow_template_fixture``);
pytest registers them as ``ready`` and ``mlflow_template``.

Synthetic images are drawn so that what the compositor must find is known: a seed
has one strongly coloured "subject" on a dull textured background at a chosen
place; a pack-shot is a coloured pack with a white label inside it, on white, with
a soft grey cast shadow, like the retail photos in ../shared/datasets/products.
"""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter
from PIL.PngImagePlugin import PngInfo

from adseed.config import resolve_settings
from adseed.workspace import Workspace


def seed_photo(
    size: tuple[int, int] = (480, 360),
    subject: tuple[float, float] = (0.5, 0.55),
    label: str = "",
    tone: int = 0,
) -> bytes:
    """A PNG 'photo': noisy grass-and-sky background, an orange blob at ``subject`` (x, y)."""
    w, h = size
    rng = np.random.default_rng(abs(hash((size, subject, tone))) % 2**32)
    sky = np.linspace([150, 180, 210], [190, 205, 220], h // 2)
    ground = np.linspace([80, 120, 60], [60, 95, 45], h - h // 2)
    base = np.concatenate([sky, ground])[:, None, :].repeat(w, 1) + tone
    noisy = np.clip(base + rng.normal(0, 9, (h, w, 3)), 0, 255).astype(np.uint8)
    img = Image.fromarray(noisy)
    cx, cy, r = subject[0] * w, subject[1] * h, 0.16 * min(w, h)
    ImageDraw.Draw(img).ellipse((cx - r, cy - 1.3 * r, cx + r, cy + 1.3 * r), fill=(225, 120, 30))
    ImageDraw.Draw(img).ellipse((cx - r / 3, cy - r, cx + r / 3, cy - r / 3), fill=(40, 25, 20))
    return _png(img, label)


def pack_shot(size: tuple[int, int] = (600, 600), color=(200, 30, 40), label: str = "") -> bytes:
    """A pack on white: coloured body, a white label inside it, a soft grey cast shadow."""
    w, h = size
    img = Image.new("RGB", size, (255, 255, 255))
    shadow = Image.new("L", size, 0)
    ImageDraw.Draw(shadow).ellipse((w * 0.3, h * 0.82, w * 0.95, h * 0.94), fill=70)
    img.paste((0, 0, 0), (0, 0), shadow.filter(ImageFilter.GaussianBlur(w / 30)))
    draw = ImageDraw.Draw(img)
    draw.rectangle((w * 0.3, h * 0.15, w * 0.7, h * 0.88), fill=color)
    draw.rectangle((w * 0.36, h * 0.4, w * 0.64, h * 0.6), fill=(255, 255, 255))
    draw.rectangle((w * 0.4, h * 0.46, w * 0.6, h * 0.52), fill=(20, 20, 20))
    return _png(img, label)


def _png(img: Image.Image, label: str) -> bytes:
    info = PngInfo()
    if label:
        info.add_text("label", label)  # the fake embedder reads it
    buf = io.BytesIO()
    img.save(buf, format="PNG", pnginfo=info)
    return buf.getvalue()


def write_images(folder: Path, images: dict[str, bytes]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in images.items():
        (folder / name).write_bytes(data)
    return folder


SEEDS = {
    "dog_beach.png": seed_photo(subject=(0.3, 0.55), label="dog outdoor beach", tone=10),
    "dog_trail.png": seed_photo(subject=(0.7, 0.5), label="dog outdoor trail hiking", tone=-10),
    "dog_park.png": seed_photo(subject=(0.5, 0.6), label="dog outdoor park", tone=0),
    "cat_sofa.png": seed_photo(subject=(0.45, 0.5), label="cat indoor sofa", tone=25),
}


@pytest.fixture(scope="session", name="mlflow_template")
def mlflow_template_fixture(tmp_path_factory) -> Path:
    """An empty MLflow sqlite store, created once: creating one costs ~2 s of migrations.

    Each workspace gets a copy at <home>/mlflow.db, the default location, so every
    test still writes to its own real store.
    """
    from mlflow import MlflowClient

    path = tmp_path_factory.mktemp("mlflow-template") / "mlflow.db"
    MlflowClient(f"sqlite:///{path}").search_experiments()
    return path


@pytest.fixture(name="ready")
def ready_fixture(tmp_path: Path, mlflow_template: Path) -> Workspace:
    """A workspace with 4 seed photos (3 dogs, 1 cat) and 1 pack-shot, embedded and indexed."""
    settings = resolve_settings({"home": tmp_path / "ws", "embedder": "fake"}, env={})
    ws = Workspace.init(settings)
    shutil.copy(mlflow_template, settings.home / "mlflow.db")
    ws.ingest([write_images(tmp_path / "seeds", SEEDS)], "main.bricks.seeds", kind="seed")
    brand = write_images(tmp_path / "brand", {"pack.png": pack_shot(label="dog food pack")})
    ws.ingest([brand], "main.bricks.brand", kind="brand")
    ws.embed()
    ws.sync_index()
    return ws


BRAND = "/Volumes/main/bricks/brand/pack.png"
SEGMENT = "dog owners who love the outdoors"
