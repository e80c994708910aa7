"""The one interface every embedder implements, and the registry that builds them.

Built-in embedders register through the ``adseed.embedders`` entry-point group
exactly like third-party ones, so a plugin package only has to declare
``[project.entry-points."adseed.embedders"] name = "pkg.module:Class"``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

from adseed import plugins

if TYPE_CHECKING:
    from adseed.config import Settings


@runtime_checkable
class Embedder(Protocol):
    """Maps images and texts into one space; rows are L2-normalised float32 vectors.

    ``model_id`` names the weights *and* the preprocessing, so vectors made by two
    different ``model_id`` values are never compared with each other.
    """

    model_id: str
    dim: int

    def embed_images(self, images: Sequence[bytes]) -> np.ndarray:
        """Encoded image files (JPEG, PNG …) → array (n, dim)."""
        ...

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        """Texts → array (n, dim), in the same space as the images."""
        ...


def normalize(vectors: np.ndarray) -> np.ndarray:
    """Row-wise L2 normalisation, safe for all-zero rows."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


def available_embedders() -> dict[str, str]:
    """Registered embedder names → 'module:Class'."""
    return plugins.registered("adseed.embedders")


def build_embedder(name: str, settings: Settings) -> Embedder:
    """Instantiate the embedder registered under ``name`` with the resolved settings."""
    embedder: Embedder = plugins.build("adseed.embedders", name, settings, "embedder")
    return embedder


def file_digest(path: Path, chars: int = 16) -> str:
    """The start of a weights file's SHA-256: names caches and model ids by content."""
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()[:chars]
