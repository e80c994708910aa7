"""Shared fixtures: a fresh workspace per test, real Delta tables, the shared photo catalogue."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from adseed.config import resolve_settings
from adseed.workspace import Workspace

DATASETS = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"


@pytest.fixture
def settings(tmp_path: Path):
    """Settings for a workspace in a temporary folder, with the fake embedder by default."""
    return resolve_settings({"home": tmp_path / "ws", "embedder": "fake"}, env={})


@pytest.fixture
def workspace(settings) -> Workspace:
    return Workspace.init(settings)


@pytest.fixture(scope="session")
def datasets() -> Path:
    """The real photo catalogue in ../shared/datasets; tests skip when it is absent."""
    if not (DATASETS / "labels.csv").is_file():
        pytest.skip(f"shared datasets not found at {DATASETS}")
    return DATASETS


def make_png(label: str = "", size: tuple[int, int] = (32, 24), color=(200, 80, 40)) -> bytes:
    """A small real PNG; ``label`` goes into a tEXt chunk the fake embedder reads."""
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    if label:
        info.add_text("label", label)
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format="PNG", pnginfo=info)
    return buf.getvalue()


def make_jpeg(size: tuple[int, int] = (40, 30), color=(10, 120, 200)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format="JPEG", quality=90)
    return buf.getvalue()
